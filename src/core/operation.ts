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
    const logFields = () => ({
      provider: this.provider,
      operation,
      ...(options.credentialId === undefined ? {} : { credentialId: options.credentialId }),
      ...(options.context ? { traceId: options.context.traceId, ownerId: options.context.ownerId } : {}),
    });

    // The stop machinery is built for speed: operations on a fast backend take well under a millisecond,
    // so the AbortController (costly in Node) is created only when an attempt asks for its signal, and the
    // Timeout error (a stack capture) only when the deadline actually passes.
    let stopReason: StorageError | undefined;
    let controller: AbortController | undefined;
    let rejectStopped: (reason: StorageError) => void = () => {};
    const stopped = new Promise<never>((_, reject) => {
      rejectStopped = reject;
    });
    stopped.catch(() => {});
    const stop = (reason: StorageError) => {
      if (stopReason) return;
      stopReason = reason;
      controller?.abort(reason);
      rejectStopped(reason);
    };
    const signalFor = (): AbortSignal => {
      if (!controller) {
        controller = new AbortController();
        if (stopReason) controller.abort(stopReason);
      }
      return controller.signal;
    };
    // Not unref'd: an operation someone awaits must settle, even when nothing else keeps the loop alive.
    const timer = setTimeout(
      () =>
        stop(
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
    const onUserAbort = () => stop(this.#abortReason(userSignal!, operation, options.credentialId));
    if (userSignal?.aborted) onUserAbort();
    else userSignal?.addEventListener('abort', onUserAbort, { once: true });

    let attempt = 0;
    try {
      for (;;) {
        attempt++;
        try {
          const context: AttemptContext = {
            get signal() {
              return signalFor();
            },
            attempt,
            remainingMs: () => timeoutMs - (monotonicMs() - started),
          };
          // Racing the stop guarantees the deadline even when a client ignores its signal.
          const result = stopReason ? await stopped : await Promise.race([call(context), stopped]);
          metrics.recordOperation(this.provider, operation, monotonicMs() - started);
          log?.debug(
            { ...logFields(), attempts: attempt, durationMs: monotonicMs() - started },
            `${operation} ok`,
          );
          return result;
        } catch (raw) {
          if (stopReason) throw stopReason.withContext({ details: { attempts: attempt } });
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
            { ...logFields(), attempt, code: error.code, delayMs: delay },
            `${operation} failed, retrying`,
          );
          try {
            await Promise.race([clock.sleep(delay, signalFor()), stopped]);
          } catch {
            throw (stopReason ?? error).withContext({ details: { attempts: attempt } });
          }
        }
      }
    } catch (error) {
      const failure = error as StorageError;
      metrics.recordOperation(this.provider, operation, monotonicMs() - started, failure.code);
      log?.debug(
        { ...logFields(), attempts: attempt, code: failure.code, durationMs: monotonicMs() - started },
        `${operation} failed`,
      );
      throw failure;
    } finally {
      clearTimeout(timer);
      userSignal?.removeEventListener('abort', onUserAbort);
    }
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
