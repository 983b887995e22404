import { StorageError } from './errors.js';

/**
 * Time as the library sees it. Retries and deadlines go through a clock so tests can drive them without
 * sleeping.
 *
 * @example
 * ```ts
 * import { systemClock } from 'nebula-credential';
 * await systemClock.sleep(10);
 * ```
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with `Aborted` when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function abortedError(signal: AbortSignal): StorageError {
  if (isStorageErrorLike(signal.reason)) return signal.reason;
  return new StorageError({
    code: 'Aborted',
    message: 'the operation was aborted by the caller',
    cause: signal.reason,
  });
}

function isStorageErrorLike(value: unknown): value is StorageError {
  return value instanceof StorageError;
}

/**
 * The real clock. A sleep keeps the process alive, like the operation waiting on it.
 *
 * @example
 * ```ts
 * import { systemClock } from 'nebula-credential';
 * console.log(systemClock.now() > 0); // true
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortedError(signal));
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortedError(signal!));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};

/**
 * A clock that moves only when told to. `sleep` resolves once `advance` has moved time past its end, and
 * every requested delay is recorded in `sleeps`, so tests can assert a backoff schedule exactly.
 *
 * @example
 * ```ts
 * import { ManualClock } from 'nebula-credential';
 * const clock = new ManualClock(0);
 * const done = clock.sleep(100);
 * await clock.advance(100);
 * await done;
 * console.log(clock.sleeps); // [100]
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  /**
   * Every delay asked of {@link ManualClock.sleep}, in order: what tests assert instead of wall-clock time.
   */
  readonly sleeps: number[] = [];
  #waiters: { until: number; resolve: () => void }[] = [];
  /** When true, every sleep completes at once (time still advances by the delay). */
  autoAdvance: boolean;

  /**
   * Starts at `start` (milliseconds since the epoch; default 2026-01-01T00:00:00Z); `autoAdvance` completes
   * every sleep at once.
   */
  constructor(start = Date.UTC(2026, 0, 1), options: { autoAdvance?: boolean } = {}) {
    this.#now = start;
    this.autoAdvance = options.autoAdvance ?? false;
  }

  /**
   * The clock's current time in milliseconds since the epoch; only {@link ManualClock.advance} (or an
   * auto-advanced sleep) moves it.
   */
  now(): number {
    return this.#now;
  }

  /**
   * Resolves when the clock has been advanced by `ms` (at once with `autoAdvance`); rejects with `Aborted`
   * when `signal` aborts.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    if (this.autoAdvance) {
      this.#now += ms;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = { until: this.#now + ms, resolve };
      this.#waiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(abortedError(signal));
        },
        { once: true },
      );
    });
  }

  /** Moves time forward and wakes every sleeper whose delay has passed. */
  async advance(ms: number): Promise<void> {
    this.#now += ms;
    const due = this.#waiters.filter((w) => w.until <= this.#now);
    this.#waiters = this.#waiters.filter((w) => w.until > this.#now);
    for (const w of due) w.resolve();
    // Let the woken continuations run before the caller looks at the results.
    await new Promise((r) => setImmediate(r));
  }

  /** Sets the time (forward or backward) without waking anyone. */
  set(epochMs: number): void {
    this.#now = epochMs;
  }
}

/**
 * Milliseconds from a monotonic source, for measuring durations. `process.hrtime` rather than the global
 * `performance`, whose first use loads Node's whole perf_hooks module graph at start-up.
 *
 * @example
 * ```ts
 * import { monotonicMs } from 'nebula-credential';
 * const t = monotonicMs();
 * console.log(monotonicMs() - t >= 0); // true
 * ```
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
