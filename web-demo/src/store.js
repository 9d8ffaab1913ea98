// What survives a reload: the simulation, the node's snapshot, the next msg_id and the node URL of
// Connect mode, as one JSON document in a Storage (localStorage in the page). Pure: the storage is
// passed in.

export const STORE_KEY = 'breaker-demo/v1';
const VERSION = 1;

/** The saved document for `sim` (whose bucket Maps become arrays of entries). */
export function encodeSave({ sim, snapshot, msgId, mode = 'simulate', connectUrl = '' }) {
  const buckets = {};
  for (const [svc, m] of Object.entries(sim.buckets)) buckets[svc] = [...m.entries()];
  return JSON.stringify({
    version: VERSION,
    sim: { ...sim, buckets },
    snapshot,
    msgId,
    mode,
    connectUrl,
  });
}

/** The saved document back, with bucket Maps; null for anything missing, unreadable or foreign. */
export function decodeSave(text) {
  if (!text) return null;
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (data?.version !== VERSION || typeof data.sim !== 'object' || data.sim === null) return null;
  const buckets = {};
  for (const [svc, entries] of Object.entries(data.sim.buckets ?? {})) {
    buckets[svc] = new Map(Array.isArray(entries) ? entries : []);
  }
  return {
    sim: { ...data.sim, buckets },
    snapshot: data.snapshot ?? null,
    msgId: Number.isInteger(data.msgId) ? data.msgId : 1,
    mode: data.mode === 'connect' ? 'connect' : 'simulate',
    connectUrl: typeof data.connectUrl === 'string' ? data.connectUrl : '',
  };
}

/** load / save / clear over `storage` (anything with getItem, setItem and removeItem). */
export function createStore(storage, key = STORE_KEY) {
  return {
    load() {
      try {
        return decodeSave(storage.getItem(key));
      } catch {
        return null;
      }
    },
    /** Throws what the storage throws (quota, private mode), for the caller to show. */
    save(state) {
      storage.setItem(key, encodeSave(state));
    },
    clear() {
      storage.removeItem(key);
    },
  };
}
