// Types of the breaker-wasm package (ES modules and CommonJS alike).
import { EventEmitter } from 'node:events';

/** The ABI version this package speaks. */
export const ABI_VERSION: 1;

/** A message envelope of the wire protocol. */
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

/** How failures are judged while closed (the protocol's `window`). */
export type Window =
  | { kind: 'consecutive' }
  | { kind: 'count'; size?: number; minimum_calls?: number; failure_rate?: number }
  | { kind: 'time'; size_ms?: number; minimum_calls?: number; failure_rate?: number };

export interface Backoff {
  multiplier?: number;
  max_open_ms?: number;
  jitter?: number;
}

/** The effective config of a breaker, as `status` and `configure` report it. */
export interface Config {
  failure_threshold: number;
  open_timeout_ms: number;
  half_open_max_calls: number;
  success_threshold: number;
  window: Window;
  slow_call_ms: number | null;
  slow_call_rate: number;
  probe_timeout_ms: number;
  backoff: Required<Backoff>;
  max_services: number;
}

/** The config fields as options (`new Breaker({ failureThreshold: 5 })`). */
export interface ConfigOptions {
  failureThreshold?: number;
  openTimeoutMs?: number;
  halfOpenMaxCalls?: number;
  successThreshold?: number;
  window?: Window;
  slowCallMs?: number | null;
  slowCallRate?: number;
  probeTimeoutMs?: number;
  backoff?: Backoff;
  maxServices?: number;
}

export interface BreakerOptions extends ConfigOptions {
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
  /** The service of wrap(fn). Default: the wrapped function's name. */
  service?: string;
}

export interface GuardOptions<T = never> {
  /** Errors for which this returns true are recorded as "ignored" rather than "failure". */
  ignore?: (error: unknown) => boolean;
  /** After this many ms the call counts as a failure and rejects with BreakerTimeoutError. */
  timeoutMs?: number;
  /** The caller's abort: the call rejects with the signal's reason, counted as a failure. */
  signal?: AbortSignal;
  /** Whether the caller's abort counts as a "failure" (default) or is "ignored". */
  cancellation?: 'failure' | 'ignored';
  /** Its result is returned instead of throwing BreakerOpenError when the breaker rejects. */
  fallback?: (error: BreakerOpenError) => T | Promise<T>;
}

/** A state change, as the module logged it. */
export interface Transition {
  seq: number;
  atMs: number;
  service: string;
  from: StateName;
  to: StateName;
  reason: string;
}

/** An entry of `events()`. */
export interface TransitionEvent {
  seq: number;
  at_ms: number;
  service: string;
  from: StateName;
  to: StateName;
  reason: string;
}

export interface Counts {
  successes: number;
  failures: number;
  rejections: number;
  opened: number;
}

/** What the deciding policy sees, by state (`policy` in `status`). */
export type Policy =
  | { window: 'consecutive'; failures: number; failure_threshold: number }
  | {
      window: 'count' | 'time';
      calls: number;
      minimum_calls: number;
      failures: number;
      failure_rate: number;
      failure_rate_threshold: number;
      slow: number;
      slow_call_rate: number;
      slow_call_rate_threshold: number;
    }
  | {
      probes_in_flight: number;
      half_open_max_calls: number;
      successes: number;
      success_threshold: number;
    }
  | { open_until_ms: number | null };

/** `status(service)`. */
export interface ServiceStatus extends ReplyBody {
  type: 'status_ok';
  service: string;
  state: StateName;
  failures: number;
  counts: Counts;
  config: Config;
  retry_after_ms?: number;
  /**
   * The last failure recorded with an `error` text since the breaker last closed: a guarded
   * call's failure carries its error's text (`String(error)`, its first 256 characters).
   */
  last_failure?: { at_ms: number; error: string };
  policy: Policy;
}

/** `status()` without a service. */
export interface NodeStatus extends ReplyBody {
  type: 'status_ok';
  services: { service: string; state: StateName; policy: Policy }[];
  evicted: number;
}

export interface ConfigureOk extends ReplyBody {
  type: 'configure_ok';
  config: Config;
}

export interface RecordOk extends ReplyBody {
  type: 'record_ok';
  service: string;
  state: StateName;
  stale?: true;
  transition?: { from: StateName; to: StateName; reason: string };
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
  /**
   * The body the acquire message would have been answered with (in_reply_to 0), but for
   * `last_failure` when a guard's batch path rejected the call: `status(service)` has it.
   */
  readonly reply: ReplyBody;
}
export class BreakerTimeoutError extends BreakerError {
  readonly service: string;
  readonly timeoutMs: number;
}

/** Unix epoch milliseconds from Date.now(), never going backwards. */
export function systemClock(): () => number;

type TransitionEventName = 'transition' | 'open' | 'halfOpen' | 'close';

export class Breaker extends EventEmitter {
  /** A node on a module (path, URL, bytes or compiled), or on the packaged one. */
  static load(
    source?: string | URL | Uint8Array | ArrayBuffer | WebAssembly.Module,
    options?: BreakerOptions,
  ): Promise<Breaker>;
  static load(options: BreakerOptions): Promise<Breaker>;
  /** A node on the packaged module. */
  constructor(options?: BreakerOptions);
  /** A node on another build of the module. */
  constructor(module: WebAssembly.Module, options?: BreakerOptions);

  on(event: TransitionEventName, listener: (transition: Transition) => void): this;
  once(event: TransitionEventName, listener: (transition: Transition) => void): this;
  off(event: TransitionEventName, listener: (transition: Transition) => void): this;

  /** Diagnostics lines of the last message handled. */
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
  /**
   * Reports an admitted call's outcome. `error`, a failure's text, becomes the breaker's last
   * failure (`status(service).last_failure`) when the breaker counts the failure.
   */
  record(
    service: string,
    permit: number,
    outcome: Outcome,
    durationMs?: number,
    nowMs?: number,
    error?: string,
  ): RecordOk;
  /** fn receives an AbortSignal that aborts on the timeout or the caller's abort. */
  guard<T, F = never>(
    service: string,
    fn: (signal?: AbortSignal) => T | Promise<T>,
    options?: GuardOptions<F>,
  ): Promise<T | F>;
  /** fn guarded under the breaker's service option, else under fn's name. */
  wrap<A extends unknown[], T, F = never>(
    fn: (...args: A) => T | Promise<T>,
    options?: GuardOptions<F>,
  ): (...args: A) => Promise<T | F>;
  wrap<A extends unknown[], T, F = never>(
    service: string,
    fn: (...args: A) => T | Promise<T>,
    options?: GuardOptions<F>,
  ): (...args: A) => Promise<T | F>;

  status(service: string): ServiceStatus;
  status(): NodeStatus;
  configure(config: Partial<Config>, service?: string): ConfigureOk;
  events(after?: number, service?: string): TransitionEvent[];
  /** This node's metrics as OpenMetrics text (what Prometheus scrapes), ending in `# EOF`. */
  metrics(): string;
  snapshot(): Record<string, unknown>;
  restore(snapshot: Record<string, unknown>): number;
}
