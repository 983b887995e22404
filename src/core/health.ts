import type { CircuitSnapshot } from './circuit-breaker.js';
import { isStorageError, type StorageErrorCode } from './errors.js';
import type { ProviderAuthState, StorageProvider } from './provider.js';

/** The last failure the store saw from its backend: code and time, never a value. */
export interface LastErrorInfo {
  code: StorageErrorCode;
  message: string;
  operation?: string | undefined;
  /** When it happened (ms since the epoch, store clock). */
  at: number;
}

/**
 * What `store.health()` returns: a snapshot, without any request.
 *
 * @example
 * ```ts
 * const h = store.health();
 * if (h.auth.ttlMs !== undefined && h.auth.ttlMs < 60_000) console.warn('token expires within a minute');
 * if (h.circuit.state === 'open') console.warn(`backend down since ${new Date(h.circuit.openedAt!)}`);
 * ```
 */
export interface StoreHealth {
  provider: string;
  /** The provider connected successfully and was not closed since. */
  connected: boolean;
  /** Where the provider's credentials come from (token, AppRole, in-cluster service account, ...). */
  credentialSource: string;
  auth: ProviderAuthState;
  lastError?: LastErrorInfo | undefined;
  circuit: CircuitSnapshot;
  cache?: { enabled: boolean; entries: number; maxEntries: number } | undefined;
  /** Provider-specific facts (namespace, vault address, region...). */
  details: Record<string, unknown>;
}

/**
 * Remembers the last failure of calls made through a store.
 *
 * @example
 * ```ts
 * import { LastErrorTracker } from 'nebula-credential';
 * const tracker = new LastErrorTracker();
 * tracker.record(new Error('x'), 'retrieve', Date.now());
 * ```
 */
export class LastErrorTracker {
  #last: LastErrorInfo | undefined;

  /** Remembers `error` (unless it is a `NotFound`, which is an answer) as the last failure, at time `at`. */
  record(error: unknown, operation: string, at: number): void {
    if (isStorageError(error)) {
      // A missing credential is an answer, not a health problem.
      if (error.code === 'NotFound') return;
      this.#last = { code: error.code, message: error.message, operation: error.operation ?? operation, at };
    } else {
      this.#last = { code: 'Internal', message: 'unexpected error', operation, at };
    }
  }

  /** A copy of the last failure recorded, if any. */
  get last(): LastErrorInfo | undefined {
    return this.#last ? { ...this.#last } : undefined;
  }
}

/**
 * The provider's own health facts, or a minimal description for providers without `healthDetails`.
 *
 * @example
 * ```ts
 * import { providerHealth } from 'nebula-credential';
 * const { connected, credentialSource, auth } = providerHealth(provider);
 * ```
 */
export function providerHealth(provider: StorageProvider): {
  connected: boolean;
  credentialSource: string;
  auth: ProviderAuthState;
  details: Record<string, unknown>;
} {
  if (typeof provider.healthDetails === 'function') {
    const { connected, credentialSource, auth, ...details } = provider.healthDetails();
    return { connected, credentialSource, auth, details };
  }
  return { connected: true, credentialSource: 'unknown', auth: { kind: 'unknown' }, details: {} };
}
