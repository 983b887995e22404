import type { Clock } from './clock.js';
import { isStorageError, StorageError } from './errors.js';
import { option } from './options-schema.js';

/**
 * The circuit breaker of a {@link CredentialStore} (off unless given): after `failureThreshold`
 * consecutive `Unavailable` or `Timeout` failures the store stops calling the backend and fails fast with
 * `Unavailable` for `coolDownMs`; then one call goes through as a probe (half-open), and its outcome closes
 * or reopens the circuit.
 *
 * @example
 * ```ts
 * const circuitBreaker: CircuitBreakerOptions = { failureThreshold: 5, coolDownMs: 30_000 };
 * ```
 */
export interface CircuitBreakerOptions {
  /** Consecutive `Unavailable`/`Timeout` failures that open the circuit. Default 5. */
  failureThreshold?: number | undefined;
  /** How long the circuit stays open before a probe. Default 30000. */
  coolDownMs?: number | undefined;
}

/** {@link CircuitBreakerOptions} with defaults applied. */
export interface ResolvedCircuitBreakerOptions {
  failureThreshold: number;
  coolDownMs: number;
}

/** `closed`: calls go through; `open`: calls fail fast; `half-open`: one probe is in flight. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** The breaker's state as `store.health()` shows it. */
export interface CircuitSnapshot {
  enabled: boolean;
  state: CircuitState;
  consecutiveFailures: number;
  failureThreshold?: number | undefined;
  /** When the circuit last opened (ms since the epoch). */
  openedAt?: number | undefined;
  /** When the next probe is allowed (ms since the epoch), while open. */
  retryAt?: number | undefined;
}

/**
 * The declared fields of a store's `circuitBreaker` option.
 *
 * @example
 * ```ts
 * import { CIRCUIT_BREAKER_OPTION_FIELDS } from 'nebula-credential';
 * console.log(Object.keys(CIRCUIT_BREAKER_OPTION_FIELDS)); // failureThreshold, coolDownMs
 * ```
 */
export const CIRCUIT_BREAKER_OPTION_FIELDS = {
  failureThreshold: option.number({
    doc: 'consecutive Unavailable/Timeout failures that open the circuit',
    integer: true,
    min: 1,
    max: 1000,
    default: 5,
  }),
  coolDownMs: option.number({
    doc: 'how long the circuit stays open before one probe, in ms',
    integer: true,
    min: 1,
    max: 86_400_000,
    default: 30_000,
  }),
} as const;

/** True for the failures that say the backend is down (as opposed to "your request is wrong"). */
function isOutage(error: unknown): boolean {
  return isStorageError(error) && (error.code === 'Unavailable' || error.code === 'Timeout');
}

/**
 * Counts consecutive outage failures of the calls run through it and fails fast while the backend is
 * known to be down. Any other outcome (success, or an error such as `NotFound` that proves the backend
 * answered) closes the circuit again.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, systemClock } from 'nebula-credential';
 * const breaker = new CircuitBreaker({ failureThreshold: 3, coolDownMs: 10_000 }, systemClock, 'memory');
 * const value = await breaker.run(async () => 42);
 * ```
 */
export class CircuitBreaker {
  /** The options in force (defaults applied). */
  readonly options: ResolvedCircuitBreakerOptions;
  readonly #clock: Clock;
  readonly #provider: string;
  #state: CircuitState = 'closed';
  #failures = 0;
  #openedAt: number | undefined;
  /** Called whenever a call is refused because the circuit is open. */
  onReject: () => void = () => {};
  /** Called when the circuit opens or closes. */
  onTransition: (state: CircuitState) => void = () => {};

  /** A closed breaker on `clock`; `provider` names the backend in its errors. */
  constructor(options: ResolvedCircuitBreakerOptions, clock: Clock, provider: string) {
    this.options = options;
    this.#clock = clock;
    this.#provider = provider;
  }

  /** `closed`, `open` or `half-open`. */
  get state(): CircuitState {
    return this.#state;
  }

  /** Runs `call` unless the circuit is open; records its outcome. */
  async run<T>(call: () => Promise<T>, operation = 'retrieve'): Promise<T> {
    this.admit(operation);
    try {
      const result = await call();
      this.recordSuccess();
      return result;
    } catch (error) {
      if (isOutage(error)) this.recordOutage();
      else this.recordSuccess();
      throw error;
    }
  }

  /** Throws `Unavailable` at once when the circuit is open; otherwise lets the call (or the probe) go. */
  admit(operation = 'retrieve'): void {
    this.#admit(operation);
  }

  /** Records an answer from the backend (a success, or an error that is not an outage). */
  recordSuccess(): void {
    this.#succeeded();
  }

  /** Records an outage failure (`Unavailable`, `Timeout`). */
  recordOutage(): void {
    this.#failed();
  }

  /** True for the failures the breaker counts. */
  static isOutage(error: unknown): boolean {
    return isOutage(error);
  }

  /** The state as `store.health()` shows it. */
  snapshot(): CircuitSnapshot {
    return {
      enabled: true,
      state: this.#state,
      consecutiveFailures: this.#failures,
      failureThreshold: this.options.failureThreshold,
      ...(this.#openedAt === undefined ? {} : { openedAt: this.#openedAt }),
      ...(this.#state === 'open' ? { retryAt: (this.#openedAt ?? 0) + this.options.coolDownMs } : {}),
    };
  }

  #admit(operation: string): void {
    if (this.#state === 'closed') return;
    const retryAt = (this.#openedAt ?? 0) + this.options.coolDownMs;
    if (this.#state === 'open' && this.#clock.now() >= retryAt) {
      // This call is the probe; everyone else keeps failing fast until it settles.
      this.#state = 'half-open';
      this.onTransition('half-open');
      return;
    }
    this.onReject();
    throw new StorageError({
      code: 'Unavailable',
      message:
        this.#state === 'half-open'
          ? `${this.#provider} is being probed after ${this.#failures} consecutive failures; failing fast until the probe answers`
          : `the circuit breaker is open after ${this.#failures} consecutive Unavailable/Timeout failures of ${this.#provider}; ` +
            `failing fast until ${new Date(retryAt).toISOString()}, then one probe`,
      provider: this.#provider,
      operation,
      retryable: true,
      details: { circuit: this.#state, retryAfterMs: Math.max(0, retryAt - this.#clock.now()) },
    });
  }

  #succeeded(): void {
    this.#failures = 0;
    if (this.#state !== 'closed') {
      this.#state = 'closed';
      this.onTransition('closed');
    }
  }

  #failed(): void {
    this.#failures++;
    if (this.#state === 'half-open' || this.#failures >= this.options.failureThreshold) {
      const wasOpen = this.#state === 'open';
      this.#state = 'open';
      this.#openedAt = this.#clock.now();
      if (!wasOpen) this.onTransition('open');
    }
  }
}
