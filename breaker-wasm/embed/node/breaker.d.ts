// Types of breaker.mjs: the Node embedding of the circuit-breaker WebAssembly module.

/** The ABI version this wrapper speaks. */
export const ABI_VERSION: 1;

/** A message envelope of the wire protocol (PROTOCOL.md §1). */
export interface Message {
  src: string;
  dest: string;
  body: { type: string; msg_id?: number; [field: string]: unknown };
}

/** A reply body: always `type` and `in_reply_to`, then the fields of its type. */
export interface ReplyBody {
  type: string;
  in_reply_to: number;
  [field: string]: unknown;
}

export interface Reply {
  src: string;
  dest: string;
  body: ReplyBody;
}

export type Outcome = 'success' | 'failure' | 'ignored';
export type StateName = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Current time in ms, used when a call passes no nowMs. Default: systemClock(). */
  clock?: () => number;
  /** The node's time moves only on advance_clock messages. */
  manualClock?: boolean;
  /** Keep the test fixtures of call and force (false in production). Default true. */
  fixtures?: boolean;
  /** The src of envelopes the helpers build. Default "node". */
  src?: string;
  /** Receives the diagnostics lines of a handle() call that had any. Default: process.emitWarning. */
  onDiagnostics?: (lines: string[]) => void;
}

export interface GuardOptions {
  /** Errors for which this returns true are recorded as "ignored" rather than "failure". */
  ignore?: (error: unknown) => boolean;
}

export interface TransitionEvent {
  seq: number;
  at_ms: number;
  service: string;
  from: StateName;
  to: StateName;
  reason: string;
}

export class BreakerError extends Error {}
export class BreakerLoadError extends BreakerError {}
export class AbiVersionError extends BreakerLoadError {
  readonly version: number;
}
/** The guest trapped; this and every later call on the instance throws it. */
export class BreakerTrappedError extends BreakerError {}
export class ProtocolError extends BreakerError {
  readonly code: number;
  readonly text: string;
  readonly reply: ReplyBody;
}
export class BreakerOpenError extends BreakerError {
  readonly service: string;
  readonly text: string;
  /** ms until a call may be admitted again; null when the breaker is forced open. */
  readonly retryAfterMs: number | null;
  readonly reply: ReplyBody;
}

/** Unix epoch milliseconds from Date.now(), never going backwards. */
export function systemClock(): () => number;

export class Breaker {
  static load(
    source: string | URL | Uint8Array | ArrayBuffer | WebAssembly.Module,
    options?: BreakerOptions,
  ): Promise<Breaker>;
  constructor(module: WebAssembly.Module, options?: BreakerOptions);

  /** Diagnostics lines of the last call into the module. */
  lastDiagnostics: string[];
  readonly trapped: boolean;

  handleRaw(
    data: string | Uint8Array,
    nowMs?: number | bigint,
  ): { replies: Uint8Array; diagnostics: string[] };
  handle(message: Message | Message[] | string | Uint8Array, nowMs?: number | bigint): Reply[];
  request(
    body: { type: string; [field: string]: unknown },
    options?: { dest?: string; nowMs?: number },
  ): ReplyBody;

  acquire(service: string, nowMs?: number): number;
  record(
    service: string,
    permit: number,
    outcome: Outcome,
    durationMs?: number,
    nowMs?: number,
  ): ReplyBody;
  guard<T>(service: string, fn: () => T | Promise<T>, options?: GuardOptions): Promise<T>;
  wrap<A extends unknown[], T>(
    service: string,
    fn: (...args: A) => T | Promise<T>,
    options?: GuardOptions,
  ): (...args: A) => Promise<T>;

  status(service?: string): ReplyBody;
  configure(config: Record<string, unknown>, service?: string): ReplyBody;
  events(after?: number, service?: string): TransitionEvent[];
  snapshot(): Record<string, unknown>;
  restore(snapshot: Record<string, unknown>): number;
}
