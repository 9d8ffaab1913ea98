// The protocol console's memory: the last `max` documents to and from the core. Pure.

export const LOG_MAX = 200;

export function createLog(max = LOG_MAX) {
  return { entries: [], seq: 0, max };
}

/** Adds `{dir: 'in'|'out'|'diag', text, now, tag?}`, numbered, dropping the oldest beyond `max`. */
export function logPush(log, entry) {
  log.entries.push({ ...entry, seq: ++log.seq });
  if (log.entries.length > log.max) log.entries.splice(0, log.entries.length - log.max);
}

export function logClear(log) {
  log.entries = [];
  log.seq++;
}

/** The entries shown for a text `query` (case-insensitive, also matching tags) and a `dir`. */
export function filterLog(log, query, dir) {
  const q = query.trim().toLowerCase();
  return log.entries.filter(
    (e) =>
      (dir === 'all' || e.dir === dir) &&
      (!q || e.text.toLowerCase().includes(q) || (e.tag ?? '').toLowerCase().includes(q)),
  );
}
