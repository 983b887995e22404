import { describeType, describeValue } from './arguments.js';
import type { ConfigIssue } from './errors.js';

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

/**
 * Fills a partial policy with the defaults and lists every invalid field (path prefix `retry`).
 *
 * @example
 * ```ts
 * import { resolveRetryPolicy } from 'nebula-credential';
 * const { policy, issues } = resolveRetryPolicy({ maxRetries: 3 });
 * ```
 */
export function resolveRetryPolicy(partial: Partial<RetryPolicy> | undefined): {
  policy: RetryPolicy;
  issues: ConfigIssue[];
} {
  const issues: ConfigIssue[] = [];
  if (partial !== undefined && (typeof partial !== 'object' || partial === null || Array.isArray(partial))) {
    issues.push({
      path: 'retry',
      message: `must be an object of retry settings (got ${describeType(partial)})`,
    });
    return { policy: { ...DEFAULT_RETRY_POLICY }, issues };
  }
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...partial };
  const check = (key: keyof RetryPolicy, ok: (v: number) => boolean, rule: string) => {
    const v = policy[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
      issues.push({ path: `retry.${key}`, message: `must be ${rule} (got ${describeValue(v)})` });
    }
  };
  check('maxRetries', (v) => Number.isInteger(v) && v >= 0 && v <= 20, 'a whole number from 0 to 20');
  check('baseDelayMs', (v) => v >= 1 && v <= 60_000, 'from 1 to 60000 ms');
  check('multiplier', (v) => v >= 1 && v <= 10, 'from 1 to 10');
  check(
    'maxDelayMs',
    (v) => v >= policy.baseDelayMs && v <= 600_000,
    'at least baseDelayMs and at most 600000 ms',
  );
  check('jitter', (v) => v >= 0 && v <= 1, 'a fraction from 0 to 1');
  return { policy, issues };
}
