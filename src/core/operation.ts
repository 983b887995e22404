import { monotonicMs } from './clock.js';
import { StorageError, type StorageOperation, toStorageError } from './errors.js';
import { silentLogger } from './logger.js';
import type { CredentialContext } from './metadata.js';
import type { ResolvedCommonOptions } from './options.js';
import { retryDelayMs } from './retry.js';

/** What each attempt of an operation receives. */
export interface AttemptContext {
  /** Aborts when the deadline passes or the caller aborts: pass it to the SDK call or `fetch`. */
  signal: AbortSignal;
  /** 1 for the first attempt. */
  attempt: number;
  /** Milliseconds left before the deadline. */
  remainingMs: () => number;
  /**
   * Calls `listener` once when the deadline passes or the caller aborts (at once if that already
   * happened), without creating the AbortSignal: the cheaper hook for a client that cancels its request
   * itself. Returns the function that removes the listener (call it when the request settles).
   */
  onStop: (listener: (reason: StorageError) => void) => () => void;
  /**
   * The same stop as `signal`, as a {@link StopSignal}: an `AbortSignalLike` for SDKs typed on one (the AWS
   * SDK's `abortSignal`, Azure's `abortSignal`) that costs a fraction of an AbortController. One per
   * operation, shared by its attempts, so it also serves as a per-operation key.
   */
  readonly stopSignal: StopSignal;
  /**
   * True when only the deadline can stop this operation (its caller passed no AbortSignal): a client may
   * then cancel with its own request timeout set by {@link backstopTimeoutMs} instead of a signal.
   */
  readonly deadlineOnly: boolean;
}

/**
 * How long after the core deadline a client's own request timeout fires. Node runs due timers in the order
 * they expire, so any margin lets the core's fire first (the error is `Timeout`, not the client's abort);
 * a short one frees a hung request's socket soon after.
 *
 * @example
 * ```ts
 * import { DEADLINE_BACKSTOP_MARGIN_MS } from 'nebula-credential';
 * const requestTimeoutMs = 2000 + DEADLINE_BACKSTOP_MARGIN_MS; // a 2 s deadline's backstop
 * ```
 */
export const DEADLINE_BACKSTOP_MARGIN_MS = 50;

/**
 * A request timeout for a client's own timer, just after the attempt's deadline: the core deadline fires
 * first (so the error is `Timeout`), and the client's timer then frees the request and its socket.
 *
 * @example
 * ```ts
 * import { backstopTimeoutMs, OperationRunner, resolveCommonOptions } from 'nebula-credential';
 * const runner = new OperationRunner('example', resolveCommonOptions('example'), (e) => { throw e; });
 * await runner.run('retrieve', async (attempt) => console.log(backstopTimeoutMs(attempt))); // about 5050
 * ```
 */
export function backstopTimeoutMs(attempt: Pick<AttemptContext, 'remainingMs'>): number {
  return Math.max(1, Math.floor(attempt.remainingMs())) + DEADLINE_BACKSTOP_MARGIN_MS;
}

/** Options of one {@link OperationRunner.run} call. */
export interface RunOptions {
  credentialId?: string | undefined;
  context?: CredentialContext | undefined;
  signal?: AbortSignal | undefined;
  /** Which deadline applies. Default: `write` for store/delete, `connect` for connect, else `read`. */
  kind?: 'read' | 'write' | 'connect' | undefined;
  /** Set false for calls that must not be repeated (non-idempotent writes without a request token). */
  retry?: boolean | undefined;
}

/** Turns anything a backend threw into a StorageError; called only for errors that are not one already. */
export type ErrorMapper = (
  error: unknown,
  operation: StorageOperation,
  credentialId: string | undefined,
) => StorageError;

const WRITE_OPERATIONS = new Set(['store', 'delete']);

/**
 * The one place where deadlines, retries, metrics and logging happen, shared by every provider so none
 * re-implements them. Each attempt gets an AbortSignal that fires at the operation's deadline; errors are
 * mapped to StorageError by the provider's mapper; retryable ones are retried with the policy's backoff
 * until retries or time run out.
 *
 * @example
 * ```ts
 * import { OperationRunner, resolveCommonOptions, StorageError } from 'nebula-credential';
 * const common = resolveCommonOptions('example');
 * const runner = new OperationRunner('example', common, (e) =>
 *   new StorageError({ code: 'Unavailable', message: 'backend unreachable', cause: e }));
 * const value = await runner.run('retrieve', async ({ signal }) => fetch('http://127.0.0.1:8200', { signal }));
 * ```
 */
export class OperationRunner {
  /** The provider name put on every error, log line and metric of the operations it runs. */
  readonly provider: string;
  /** The resolved deadlines, retry policy, clock, logger and metrics it applies. */
  readonly options: ResolvedCommonOptions;
  readonly #mapError: ErrorMapper;

  /**
   * A runner for `provider` with its common options; `mapError` turns what the backend throws into a
   * StorageError.
   */
  constructor(provider: string, options: ResolvedCommonOptions, mapError: ErrorMapper) {
    this.provider = provider;
    this.options = options;
    this.#mapError = mapError;
  }

  /**
   * Runs `call` until it succeeds, with the deadline of its kind (read, write or connect) and retries of
   * retryable errors (the policy's backoff, or the server's `Retry-After` when longer). Each attempt gets an
   * AbortSignal that fires at the deadline or when `options.signal` aborts; the result or the final
   * StorageError is recorded in the metrics and the log.
   */
  async run<T>(
    operation: StorageOperation,
    call: (attempt: AttemptContext) => Promise<T>,
    options: RunOptions = {},
  ): Promise<T> {
    const { clock, logger, metrics, retry, timeouts } = this.options;
    const kind =
      options.kind ??
      (operation === 'connect' ? 'connect' : WRITE_OPERATIONS.has(operation) ? 'write' : 'read');
    const timeoutMs =
      kind === 'connect' ? timeouts.connectMs : kind === 'write' ? timeouts.writeMs : timeouts.readMs;
    const started = monotonicMs();
    const startedAt = clock.now();
    const log = logger === silentLogger ? undefined : logger;

    // The stop machinery is built for speed: operations on a fast backend take well under a millisecond,
    // so no AbortController (costly in Node) exists unless an attempt asks for its signal, the Timeout
    // error (a stack capture) is made only when the deadline actually passes, and each attempt is one
    // promise the stop rejects rather than a race against a shared one.
    const stop = new RunStop(options.signal === undefined);
    // Not unref'd: an operation someone awaits must settle, even when nothing else keeps the loop alive.
    const timer = setTimeout(
      () =>
        stop.stop(
          new StorageError({
            code: 'Timeout',
            message: `${operation} did not finish within ${timeoutMs} ms (the ${kind} deadline); the backend may be slow or unreachable`,
            provider: this.provider,
            operation,
            credentialId: options.credentialId,
            retryable: false,
            details: { durationMs: timeoutMs },
          }),
        ),
      timeoutMs,
    );
    const userSignal = options.signal;
    let onUserAbort: (() => void) | undefined;
    if (userSignal) {
      onUserAbort = () => stop.stop(this.#abortReason(userSignal, operation, options.credentialId));
      if (userSignal.aborted) onUserAbort();
      else userSignal.addEventListener('abort', onUserAbort, { once: true });
    }

    let attempt = 0;
    try {
      for (;;) {
        attempt++;
        try {
          // Racing the stop guarantees the deadline even when a client ignores its signal.
          const result = await stop.race(call(new Attempt(stop, attempt, timeoutMs, started)));
          const durationMs = monotonicMs() - started;
          metrics.recordOperation(this.provider, operation, durationMs);
          log?.debug(
            { ...this.#logFields(operation, options), attempts: attempt, durationMs },
            `${operation} ok`,
          );
          return result;
        } catch (raw) {
          if (stop.reason) throw stop.reason.withContext({ details: { attempts: attempt } });
          const error = this.#normalize(raw, operation, options.credentialId);
          const canRetry = options.retry !== false && error.retryable && attempt <= retry.maxRetries;
          const delay = canRetry
            ? Math.max(retryDelayMs(retry, attempt - 1), Number(error.details.retryAfterMs ?? 0))
            : 0;
          if (!canRetry || clock.now() - startedAt + delay >= timeoutMs) {
            throw error.withContext({ details: { attempts: attempt } });
          }
          metrics.recordRetry(this.provider, operation);
          log?.debug(
            { ...this.#logFields(operation, options), attempt, code: error.code, delayMs: delay },
            `${operation} failed, retrying`,
          );
          try {
            await stop.race(clock.sleep(delay, stop.signal));
          } catch {
            throw (stop.reason ?? error).withContext({ details: { attempts: attempt } });
          }
        }
      }
    } catch (error) {
      const failure = error as StorageError;
      const durationMs = monotonicMs() - started;
      metrics.recordOperation(this.provider, operation, durationMs, failure.code);
      log?.debug(
        { ...this.#logFields(operation, options), attempts: attempt, code: failure.code, durationMs },
        `${operation} failed`,
      );
      throw failure;
    } finally {
      clearTimeout(timer);
      if (onUserAbort) userSignal?.removeEventListener('abort', onUserAbort);
    }
  }

  /** The fields every log line of an operation carries (ids and trace ids, never a value). */
  #logFields(operation: StorageOperation, options: RunOptions): Record<string, unknown> {
    return {
      provider: this.provider,
      operation,
      ...(options.credentialId === undefined ? {} : { credentialId: options.credentialId }),
      ...(options.context ? { traceId: options.context.traceId, ownerId: options.context.ownerId } : {}),
    };
  }

  #normalize(raw: unknown, operation: StorageOperation, credentialId: string | undefined): StorageError {
    const context = { provider: this.provider, operation, credentialId };
    if (raw instanceof StorageError) return raw.withContext(context);
    let mapped: StorageError;
    try {
      mapped = this.#mapError(raw, operation, credentialId);
    } catch (mapperFailure) {
      mapped = toStorageError(mapperFailure, context);
    }
    return mapped.withContext(context);
  }

  #abortReason(
    signal: AbortSignal,
    operation: StorageOperation,
    credentialId: string | undefined,
  ): StorageError {
    const reason = signal.reason;
    if (reason instanceof StorageError) return reason;
    return new StorageError({
      code: 'Aborted',
      message: `${operation} was aborted by the caller`,
      provider: this.provider,
      operation,
      credentialId,
      cause: reason,
    });
  }
}

const NOTHING_TO_REMOVE = () => {};

type AbortListener =
  | ((this: StopSignal, event: { type: 'abort' }) => unknown)
  | { handleEvent(event: unknown): unknown };

/**
 * The abort side of an operation's stop for SDKs that accept an `AbortSignalLike` (`aborted`, `reason`,
 * `onabort`, `addEventListener('abort')`): a plain object instead of an AbortController, whose EventTarget
 * machinery costs several microseconds per operation in Node. Not an `AbortSignal`: `fetch` and Node's own
 * APIs need the real one (`attempt.signal`).
 *
 * @example
 * ```ts
 * import { OperationRunner, resolveCommonOptions } from 'nebula-credential';
 * const runner = new OperationRunner('example', resolveCommonOptions('example'), (e) => { throw e; });
 * await runner.run('retrieve', async (attempt) => {
 *   attempt.stopSignal.addEventListener('abort', () => console.log('stopped:', attempt.stopSignal.reason));
 *   return 'done';
 * });
 * ```
 */
export class StopSignal {
  /** True once the operation's deadline passed or its caller aborted. */
  aborted = false;
  /** The StorageError that stopped the operation (`Timeout` or `Aborted`). */
  reason: StorageError | undefined;
  /** Called once on abort, as an AbortSignal's `onabort` is (the AWS SDK sets it on signals without listeners). */
  onabort: ((this: StopSignal, event: { type: 'abort' }) => unknown) | null = null;
  #listeners: Set<AbortListener> | undefined;

  /** Adds an `abort` listener (other event types never fire). */
  addEventListener(type: string, listener: AbortListener | null, _options?: unknown): void {
    if (type !== 'abort' || !listener) return;
    this.#listeners ??= new Set();
    this.#listeners.add(listener);
  }

  /** Removes an `abort` listener. */
  removeEventListener(type: string, listener: AbortListener | null, _options?: unknown): void {
    if (type === 'abort' && listener) this.#listeners?.delete(listener);
  }

  /** Fires the listeners once; called by the operation's stop. @internal */
  abort(reason: StorageError): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const event = { type: 'abort' as const, target: this };
    this.onabort?.call(this, event);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) {
      for (const listener of listeners) {
        if (typeof listener === 'function') listener.call(this, event);
        else listener.handleEvent(event);
      }
    }
  }
}

/**
 * The stop of one {@link OperationRunner.run}: its reason once the deadline passed or the caller aborted,
 * the lazily made AbortSignal, the listeners of {@link AttemptContext.onStop}, and the one pending
 * {@link RunStop.race} it rejects.
 */
class RunStop {
  reason: StorageError | undefined;
  /** No caller signal: only the deadline stops the run. */
  readonly deadlineOnly: boolean;
  #controller: AbortController | undefined;
  #stopSignal: StopSignal | undefined;
  #rejectPending: ((reason: StorageError) => void) | undefined;
  #listeners: Set<(reason: StorageError) => void> | undefined;

  constructor(deadlineOnly: boolean) {
    this.deadlineOnly = deadlineOnly;
  }

  stop(reason: StorageError): void {
    if (this.reason) return;
    this.reason = reason;
    this.#controller?.abort(reason);
    this.#stopSignal?.abort(reason);
    this.#rejectPending?.(reason);
    this.#rejectPending = undefined;
    if (this.#listeners) for (const listener of this.#listeners) listener(reason);
    this.#listeners = undefined;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.reason) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  get stopSignal(): StopSignal {
    if (!this.#stopSignal) {
      this.#stopSignal = new StopSignal();
      if (this.reason) this.#stopSignal.abort(this.reason);
    }
    return this.#stopSignal;
  }

  onStop(listener: (reason: StorageError) => void): () => void {
    if (this.reason) {
      listener(this.reason);
      return NOTHING_TO_REMOVE;
    }
    this.#listeners ??= new Set();
    this.#listeners.add(listener);
    return () => this.#listeners?.delete(listener);
  }

  /** `promise`'s outcome, or a rejection with the reason as soon as the run stops (whichever comes first). */
  race<T>(promise: Promise<T>): Promise<T> {
    if (this.reason) {
      promise.catch(() => {});
      return Promise.reject(this.reason);
    }
    return new Promise<T>((resolve, reject) => {
      this.#rejectPending = reject;
      promise.then(resolve, reject);
    });
  }
}

/** The {@link AttemptContext} of one attempt: a class, so the lazy `signal` getter lives on the prototype. */
class Attempt implements AttemptContext {
  readonly #stop: RunStop;
  readonly attempt: number;
  readonly #timeoutMs: number;
  readonly #started: number;

  constructor(stop: RunStop, attempt: number, timeoutMs: number, started: number) {
    this.#stop = stop;
    this.attempt = attempt;
    this.#timeoutMs = timeoutMs;
    this.#started = started;
  }

  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  get stopSignal(): StopSignal {
    return this.#stop.stopSignal;
  }

  get deadlineOnly(): boolean {
    return this.#stop.deadlineOnly;
  }

  remainingMs(): number {
    return this.#timeoutMs - (monotonicMs() - this.#started);
  }

  onStop(listener: (reason: StorageError) => void): () => void {
    return this.#stop.onStop(listener);
  }
}
