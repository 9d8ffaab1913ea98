// A module's bytes with its export section edited: how the tests make an older module (an
// export removed) or give a hand-written one another name for a function (an export added).

function leb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function readLeb(bytes, at) {
  let n = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    n |= (byte & 0x7f) << shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [n >>> 0, at];
  }
}

/**
 * bytes with the exports edit(exports) returns, each export being { name, kind, index } (kind
 * 0 a function); the other sections as they were.
 */
export function withExports(bytes, edit) {
  const out = [bytes.subarray(0, 8)];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at];
    const [size, body] = readLeb(bytes, at + 1);
    const end = body + size;
    if (id !== 7) {
      out.push(bytes.subarray(at, end));
    } else {
      const decoder = new TextDecoder();
      let [count, p] = readLeb(bytes, body);
      const exports = [];
      for (; count > 0; count--) {
        const [len, name] = readLeb(bytes, p);
        const kind = bytes[name + len];
        const [index, next] = readLeb(bytes, name + len + 1);
        exports.push({ name: decoder.decode(bytes.subarray(name, name + len)), kind, index });
        p = next;
      }
      const edited = edit(exports);
      const section = [...leb(edited.length)];
      for (const { name, kind, index } of edited) {
        const utf8 = new TextEncoder().encode(name);
        section.push(...leb(utf8.length), ...utf8, kind, ...leb(index));
      }
      out.push(new Uint8Array([7, ...leb(section.length), ...section]));
    }
    at = end;
  }
  return new Uint8Array(Buffer.concat(out));
}
