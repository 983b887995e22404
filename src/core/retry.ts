/**
 * Exponential backoff with jitter. The delay before retry `n` (0 for the first retry) is
 *
 *     delay(n) = min(maxDelayMs, baseDelayMs × multiplier^n) × (1 + jitter × (2r − 1)),  r uniform in [0, 1)
 *
 * so with the defaults the nominal schedule is 100, 200, 400, 800, 1600 ms, each spread ±20% so that
 * clients failing together do not retry together. A `Retry-After` from the server raises the
 * delay to at least what it asks. Retries stop at `maxRetries`, or earlier when the next delay would pass
 * the operation's deadline.
 *
 * @example
 * ```ts
 * const provider = await createStorageProvider({
 *   provider: 'hashicorp-vault', address: 'https://vault.example.com:8200', auth: { token: process.env.VAULT_TOKEN! },
 *   retry: { maxRetries: 3, baseDelayMs: 200 },
 * });
 * ```
 */
export interface RetryPolicy {
  /** Retries after the first attempt. Default 5. */
  maxRetries: number;
  /** Delay before the first retry, in ms. Default 100. */
  baseDelayMs: number;
  /** Growth factor per retry. Default 2. */
  multiplier: number;
  /** Upper bound of a single delay, before jitter, in ms. Default 20000. */
  maxDelayMs: number;
  /** Spread of each delay as a fraction (0 = none, 0.2 = ±20%). Default 0.2. */
  jitter: number;
}

/**
 * The defaults: 5 retries, 100 ms, ×2, capped at 20 s, ±20% jitter.
 *
 * @example
 * ```ts
 * import { DEFAULT_RETRY_POLICY } from 'nebula-credential';
 * console.log(DEFAULT_RETRY_POLICY.maxRetries); // 5
 * ```
 */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxRetries: 5,
  baseDelayMs: 100,
  multiplier: 2,
  maxDelayMs: 20_000,
  jitter: 0.2,
});

/**
 * The delay before retry `retryIndex` (0-based) under `policy`; `random` is injectable for tests.
 *
 * @example
 * ```ts
 * import { retryDelayMs, DEFAULT_RETRY_POLICY } from 'nebula-credential';
 * retryDelayMs(DEFAULT_RETRY_POLICY, 2, () => 0.5); // 400
 * ```
 */
export function retryDelayMs(
  policy: RetryPolicy,
  retryIndex: number,
  random: () => number = Math.random,
): number {
  const nominal = Math.min(policy.maxDelayMs, policy.baseDelayMs * policy.multiplier ** retryIndex);
  const spread = 1 + policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(nominal * spread));
}
