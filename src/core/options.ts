import { describeValue } from './arguments.js';
import { type Clock, systemClock } from './clock.js';
import { type ConfigIssue, StorageError } from './errors.js';
import { type Logger, silentLogger } from './logger.js';
import { StorageMetrics } from './metrics.js';
import { type RetryPolicy, resolveRetryPolicy } from './retry.js';

/** Per-operation deadlines in milliseconds. */
export interface OperationTimeouts {
  /** `retrieve`, `exists`, `list`. Default 5000. */
  readMs: number;
  /** `store`, `delete`. Default 10000. */
  writeMs: number;
  /** `connect()`, which must fail fast on bad configuration. Default 2000. */
  connectMs: number;
}

/**
 * The defaults: 5 s reads, 10 s writes, 2 s to connect.
 *
 * @example
 * ```ts
 * import { DEFAULT_TIMEOUTS } from 'nebula-credential';
 * console.log(DEFAULT_TIMEOUTS.readMs); // 5000
 * ```
 */
export const DEFAULT_TIMEOUTS: Readonly<OperationTimeouts> = Object.freeze({
  readMs: 5_000,
  writeMs: 10_000,
  connectMs: 2_000,
});

/**
 * Options every provider accepts besides its own.
 *
 * @example
 * ```ts
 * const common: CommonProviderOptions = { timeouts: { readMs: 2000 }, retry: { maxRetries: 2 } };
 * ```
 */
export interface CommonProviderOptions {
  /** Backoff for transient failures. Default {@link DEFAULT_RETRY_POLICY}. */
  retry?: Partial<RetryPolicy> | undefined;
  /** Deadlines per operation kind. Default {@link DEFAULT_TIMEOUTS}. */
  timeouts?: Partial<OperationTimeouts> | undefined;
  /** Where figures are recorded. Default: a new {@link StorageMetrics} per provider. */
  metrics?: StorageMetrics | undefined;
  /** Structured logger (pino-compatible). Default: silent. */
  logger?: Logger | undefined;
  /** Time source for retries and TTLs. Default: the system clock. Tests inject a ManualClock. */
  clock?: Clock | undefined;
}

/** Common options with their defaults applied. */
export interface ResolvedCommonOptions {
  retry: RetryPolicy;
  timeouts: OperationTimeouts;
  metrics: StorageMetrics;
  logger: Logger;
  clock: Clock;
}

const COMMON_KEYS = ['retry', 'timeouts', 'metrics', 'logger', 'clock'] as const;

/**
 * Collects every problem with a provider's options, then reports them together in one `InvalidConfig`
 * error whose message lists each path and what to fix.
 *
 * @example
 * ```ts
 * import { OptionsValidator } from 'nebula-credential';
 * const v = new OptionsValidator('example', { region: 42 });
 * v.string('region', { required: true });
 * v.throwIfInvalid(); // throws: invalid options for example: region: must be a string
 * ```
 */
export class OptionsValidator {
  /** Every problem found so far, each with its option path. */
  readonly issues: ConfigIssue[] = [];
  /** The provider the options are for, named in the error. */
  readonly provider: string;
  /** The options being checked (an empty object when they were not an object at all). */
  readonly options: Record<string, unknown>;

  /** Starts checking `options` of `provider`; a value that is not an object is the first issue. */
  constructor(provider: string, options: unknown) {
    this.provider = provider;
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      this.issues.push({ path: '', message: 'options must be an object' });
      this.options = {};
    } else {
      this.options = options as Record<string, unknown>;
    }
  }

  /** Records a problem with the option at `path` (a dotted path such as `auth.roleId`). */
  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  /** Reports keys not in `allowed` (plus the common ones and `provider`), suggesting near misses. */
  noUnknownKeys(allowed: readonly string[]): void {
    const known = new Set<string>([...allowed, ...COMMON_KEYS, 'provider']);
    for (const key of Object.keys(this.options)) {
      if (known.has(key)) continue;
      const near = nearestName(key, known);
      this.add(key, `unknown option${near ? ` (did you mean "${near}"?)` : ''}`);
    }
  }

  /** The value at a dotted `path`, or `undefined` when any part of it is missing. */
  get(path: string): unknown {
    let value: unknown = this.options;
    for (const part of path.split('.')) {
      if (typeof value !== 'object' || value === null) return undefined;
      value = (value as Record<string, unknown>)[part];
    }
    return value;
  }

  /**
   * The string at `path`, or `undefined` (recording an issue) when it is missing but required, not a string,
   * empty, too long or does not match `pattern`.
   */
  string(
    path: string,
    rules: {
      required?: boolean;
      pattern?: RegExp;
      rule?: string;
      maxLength?: number;
      nonEmpty?: boolean;
    } = {},
  ): string | undefined {
    const value = this.get(path);
    if (value === undefined) {
      if (rules.required) this.add(path, `is required${rules.rule ? ` (${rules.rule})` : ''}`);
      return undefined;
    }
    if (typeof value !== 'string') {
      this.add(path, `must be a string (got ${typeOf(value)})`);
      return undefined;
    }
    if ((rules.nonEmpty ?? rules.required) && value.length === 0) this.add(path, 'must not be empty');
    else if (rules.maxLength !== undefined && value.length > rules.maxLength) {
      this.add(path, `must be at most ${rules.maxLength} characters (got ${value.length})`);
    } else if (rules.pattern && !rules.pattern.test(value))
      this.add(path, `must be ${rules.rule ?? rules.pattern}`);
    return value;
  }

  /**
   * The number at `path`, or `undefined` (recording an issue) when it is missing but required, not a finite
   * number, out of `min`..`max`, or not an integer where one is required.
   */
  number(
    path: string,
    rules: { required?: boolean; min?: number; max?: number; integer?: boolean } = {},
  ): number | undefined {
    const value = this.get(path);
    if (value === undefined) {
      if (rules.required) this.add(path, 'is required');
      return undefined;
    }
    const range = `${rules.integer ? 'a whole number' : 'a number'}${rules.min !== undefined ? ` from ${rules.min}` : ''}${
      rules.max !== undefined ? ` to ${rules.max}` : ''
    }`;
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      (rules.integer && !Number.isInteger(value)) ||
      (rules.min !== undefined && value < rules.min) ||
      (rules.max !== undefined && value > rules.max)
    ) {
      this.add(path, `must be ${range} (got ${describeValue(value)})`);
      return undefined;
    }
    return value;
  }

  /** The boolean at `path`, or `undefined` (recording an issue when it is there but not a boolean). */
  boolean(path: string): boolean | undefined {
    const value = this.get(path);
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') {
      this.add(path, `must be true or false (got ${typeOf(value)})`);
      return undefined;
    }
    return value;
  }

  /**
   * The value at `path` when it is one of `allowed`, else `undefined` (recording an issue that lists them).
   */
  oneOf<T extends string>(
    path: string,
    allowed: readonly T[],
    rules: { required?: boolean } = {},
  ): T | undefined {
    const value = this.get(path);
    if (value === undefined) {
      if (rules.required) this.add(path, `is required (one of ${allowed.map((a) => `"${a}"`).join(', ')})`);
      return undefined;
    }
    if (!allowed.includes(value as T)) {
      this.add(
        path,
        `must be one of ${allowed.map((a) => `"${a}"`).join(', ')} (got ${describeValue(value)})`,
      );
      return undefined;
    }
    return value as T;
  }

  /** A `Record<string, string>` (tags, labels). */
  stringMap(path: string): Record<string, string> | undefined {
    const value = this.get(path);
    if (value === undefined) return undefined;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.add(path, 'must be an object of string values');
      return undefined;
    }
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') this.add(`${path}.${k}`, 'must be a string');
    }
    return value as Record<string, string>;
  }

  /** Validates and fills the options every provider shares. */
  common(): ResolvedCommonOptions {
    const { policy, issues } = resolveRetryPolicy(this.get('retry') as Partial<RetryPolicy> | undefined);
    this.issues.push(...issues);
    const isObject = (v: unknown) => typeof v === 'object' && v !== null;
    const timeouts = { ...DEFAULT_TIMEOUTS };
    const given = this.get('timeouts');
    if (given !== undefined && (typeof given !== 'object' || given === null))
      this.add('timeouts', 'must be an object');
    for (const key of ['readMs', 'writeMs', 'connectMs'] as const) {
      const v = this.number(`timeouts.${key}`, { min: 1, max: 600_000 });
      if (v !== undefined) timeouts[key] = v;
    }
    const metrics = this.get('metrics');
    if (metrics !== undefined && !(metrics instanceof StorageMetrics)) {
      this.add('metrics', 'must be a StorageMetrics instance');
    }
    let logger = this.get('logger') as Logger | undefined;
    if (
      logger !== undefined &&
      (!isObject(logger) ||
        ['debug', 'info', 'warn', 'error'].some((m) => typeof (logger as never)[m] !== 'function'))
    ) {
      this.add('logger', 'must have debug, info, warn and error methods (a pino logger fits)');
      logger = undefined;
    }
    let clock = this.get('clock') as Clock | undefined;
    if (
      clock !== undefined &&
      (!isObject(clock) || typeof clock.now !== 'function' || typeof clock.sleep !== 'function')
    ) {
      this.add('clock', 'must have now() and sleep() methods');
      clock = undefined;
    }
    return {
      retry: policy,
      timeouts,
      metrics: metrics instanceof StorageMetrics ? metrics : new StorageMetrics(),
      logger: logger ?? silentLogger,
      clock: clock ?? systemClock,
    };
  }

  /** Throws one `InvalidConfig` listing every issue, if there is any. */
  throwIfInvalid(): void {
    if (this.issues.length === 0) return;
    const list = this.issues.map((i) => `${i.path || '(options)'}: ${i.message}`).join('; ');
    throw new StorageError({
      code: 'InvalidConfig',
      message: `invalid options for ${this.provider}: ${list}`,
      provider: this.provider,
      operation: 'configure',
      details: { issues: [...this.issues] },
    });
  }
}

function typeOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/** The name in `known` that `name` is most likely a typo of (case ignored, at most 2 edits away). */
export function nearestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(candidate.toLowerCase(), name.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
