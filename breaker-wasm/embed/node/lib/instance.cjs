'use strict';
// One instance of the module on the built-in WebAssembly API: loading, raw calls, memory,
// traps (ABI.md).
const { readFile } = require('node:fs/promises');
const { join } = require('node:path');
const {
  AbiVersionError,
  BreakerError,
  BreakerLoadError,
  BreakerTrappedError,
} = require('./errors.cjs');

/** The ABI version this package speaks (breaker_abi_version()). */
const ABI_VERSION = 1;
const EXPORTS = [
  'memory',
  'breaker_abi_version',
  'breaker_alloc',
  'breaker_free',
  'breaker_handle',
  'breaker_diagnostics',
];
/**
 * The batch path (ABI.md, "Grants and batched reports"), used when all are there: an older
 * module, without breaker_failure_texts, gets messages, which carry the failures' texts.
 */
const BATCH_EXPORTS = [
  'breaker_slot',
  'breaker_grant',
  'breaker_sync',
  'breaker_failure_texts',
  'breaker_last_permit',
  'breaker_event_seq',
  'breaker_events_after',
];
/** The module shipped in the package, beside this folder. */
const PACKAGED = join(__dirname, '..', 'breaker.wasm');

/** A compiled module from a path, URL, bytes or a WebAssembly.Module (the packaged one when absent). */
async function compile(source) {
  if (source instanceof WebAssembly.Module) return { module: source, where: '<module>' };
  const fromFile = source == null || typeof source === 'string' || source instanceof URL;
  const where = source == null ? 'the packaged breaker.wasm' : fromFile ? `"${source}"` : '<bytes>';
  let bytes = source;
  if (fromFile) {
    try {
      bytes = await readFile(source ?? PACKAGED);
    } catch (e) {
      throw new BreakerLoadError(`cannot read the breaker module ${where}: ${e.code ?? e.message}`);
    }
  }
  try {
    return { module: await WebAssembly.compile(bytes), where };
  } catch (e) {
    throw new BreakerLoadError(`${where} is not a valid WebAssembly module: ${e.message}`);
  }
}

function trapReason(e) {
  const text = String(e?.message ?? e);
  return e instanceof WebAssembly.RuntimeError
    ? `wasm trap: ${text}`
    : `${e?.name ?? 'Error'}: ${text}`;
}

class Instance {
  constructor(module, where) {
    const imports = WebAssembly.Module.imports(module);
    if (imports.length > 0) {
      const names = imports.map((i) => `${i.module}.${i.name}`).join(', ');
      throw new BreakerLoadError(`${where} imports ${names}; the breaker module has none`);
    }
    let instance;
    try {
      instance = new WebAssembly.Instance(module, {});
    } catch (e) {
      throw new BreakerLoadError(`cannot instantiate ${where}: ${e.message}`);
    }
    const ex = instance.exports;
    const missing = EXPORTS.filter((name) => !(name in ex));
    if (missing.length > 0) {
      throw new BreakerLoadError(
        `${where} is not a breaker module: missing export(s) ${missing.join(', ')}`,
      );
    }
    this.ex = ex;
    this.where = where;
    this.trapped = null;
    const version = this.call('breaker_abi_version');
    if (version !== ABI_VERSION) {
      throw new AbiVersionError(
        `${where} speaks breaker ABI version ${version}; this package needs version ${ABI_VERSION}`,
        version,
      );
    }
  }

  has(names) {
    return names.every((name) => typeof this.ex[name] === 'function');
  }

  setOptions(flags) {
    if (!flags) return;
    if (!this.has(['breaker_set_options']))
      throw new BreakerLoadError(`${this.where} has no breaker_set_options export`);
    if (this.call('breaker_set_options', flags) !== 0)
      throw new BreakerError('breaker_set_options refused the options');
  }

  /** Calls an export; a trap poisons the instance (BreakerTrappedError). */
  call(name, ...args) {
    if (this.trapped !== null) {
      throw new BreakerTrappedError(
        `the breaker instance is unusable: it trapped earlier (${this.trapped})`,
      );
    }
    try {
      return this.ex[name](...args);
    } catch (e) {
      this.trapped = trapReason(e);
      throw new BreakerTrappedError(`the breaker module trapped: ${this.trapped}`, { cause: e });
    }
  }

  alloc(length) {
    const ptr = this.call('breaker_alloc', length);
    if (ptr === 0) throw new BreakerError(`breaker_alloc could not provide ${length} bytes`);
    return ptr;
  }

  /** A fresh view of guest memory (memory.grow detaches earlier ones). */
  bytes(ptr, length) {
    return new Uint8Array(this.ex.memory.buffer, ptr, length);
  }

  /** The bytes at (ptr << 32) | len, copied out of guest memory. */
  read(packed) {
    const u = BigInt.asUintN(64, packed);
    const len = Number(u & 0xffffffffn);
    return len === 0 ? new Uint8Array(0) : this.bytes(Number(u >> 32n), len).slice();
  }

  /** breaker_handle of bytes at now: the reply bytes and the diagnostics text. */
  handle(bytes, now) {
    let ptr = 0;
    if (bytes.length > 0) {
      ptr = this.alloc(bytes.length);
      this.bytes(ptr, bytes.length).set(bytes);
    }
    let out;
    try {
      out = this.read(this.call('breaker_handle', ptr, bytes.length, now));
    } finally {
      if (ptr !== 0 && this.trapped === null) this.call('breaker_free', ptr, bytes.length);
    }
    return { out, diagnostics: this.read(this.call('breaker_diagnostics')) };
  }
}

module.exports = { ABI_VERSION, BATCH_EXPORTS, Instance, compile };
