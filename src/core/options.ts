import { type Clock, systemClock } from './clock.js';
import { type Logger, silentLogger } from './logger.js';
import { StorageMetrics } from './metrics.js';
import { type InputOf, OptionsSchema, type OutputOf, option, type Shape } from './options-schema.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';

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

const LOGGER_METHODS = ['debug', 'info', 'warn', 'error'] as const;

function commonFields(retryDefaults: Partial<RetryPolicy>) {
  const retry = { ...DEFAULT_RETRY_POLICY, ...retryDefaults };
  const ms = (doc: string, value: number) =>
    option.number({ doc, min: 1, max: 600_000, default: value, defaultDoc: String(value) });
  return {
    retry: option.object(
      {
        maxRetries: option.number({
          doc: 'retries after the first attempt',
          integer: true,
          min: 0,
          max: 20,
          default: retry.maxRetries,
        }),
        baseDelayMs: option.number({
          doc: 'delay before the first retry, in ms',
          min: 1,
          max: 60_000,
          default: retry.baseDelayMs,
        }),
        multiplier: option.number({ doc: 'growth per retry', min: 1, max: 10, default: retry.multiplier }),
        maxDelayMs: option.number({
          doc: 'largest single delay, in ms',
          min: 1,
          max: 600_000,
          default: retry.maxDelayMs,
        }),
        jitter: option.number({
          doc: 'spread of each delay (0.2 = ±20%)',
          min: 0,
          max: 1,
          default: retry.jitter,
        }),
      },
      {
        check: (r, report) => {
          if (r.maxDelayMs < r.baseDelayMs) report('maxDelayMs', 'must be at least baseDelayMs');
        },
      },
    ),
    timeouts: option.object({
      readMs: ms('deadline of retrieve, exists and list, in ms', DEFAULT_TIMEOUTS.readMs),
      writeMs: ms('deadline of store and delete, in ms', DEFAULT_TIMEOUTS.writeMs),
      connectMs: ms('deadline of connect(), in ms', DEFAULT_TIMEOUTS.connectMs),
    }),
    metrics: option.instance(
      { is: (v): v is StorageMetrics => v instanceof StorageMetrics, rule: 'a StorageMetrics instance' },
      {
        doc: 'where figures are recorded',
        default: () => new StorageMetrics(),
        defaultDoc: 'a new StorageMetrics',
      },
    ),
    logger: option.instance(
      {
        is: (v): v is Logger =>
          typeof v === 'object' &&
          v !== null &&
          LOGGER_METHODS.every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
        rule: 'an object with debug, info, warn and error methods (a pino logger fits)',
      },
      { doc: 'structured logger (pino-compatible)', default: silentLogger, defaultDoc: 'silent' },
    ),
    clock: option.instance(
      {
        is: (v): v is Clock =>
          typeof v === 'object' &&
          v !== null &&
          typeof (v as Clock).now === 'function' &&
          typeof (v as Clock).sleep === 'function',
        rule: 'an object with now() and sleep() methods',
      },
      {
        doc: 'time source of retries and TTLs (tests inject a ManualClock)',
        default: systemClock,
        defaultDoc: 'the system clock',
      },
    ),
  };
}

/** The fields every provider accepts besides its own (`retry`, `timeouts`, `metrics`, `logger`, `clock`). */
export type CommonFields = ReturnType<typeof commonFields>;

/**
 * The names of the common options, in the order the docs list them.
 *
 * @example
 * ```ts
 * import { COMMON_OPTION_NAMES } from 'nebula-credential';
 * console.log(COMMON_OPTION_NAMES.join(', ')); // retry, timeouts, metrics, logger, clock
 * ```
 */
export const COMMON_OPTION_NAMES = Object.keys(commonFields({})) as (keyof CommonFields)[];

/**
 * Options every provider accepts besides its own.
 *
 * @example
 * ```ts
 * const common: CommonProviderOptions = { timeouts: { readMs: 2000 }, retry: { maxRetries: 2 } };
 * ```
 */
export type CommonProviderOptions = InputOf<CommonFields>;

/** Common options with their defaults applied. */
export interface ResolvedCommonOptions {
  retry: RetryPolicy;
  timeouts: OperationTimeouts;
  metrics: StorageMetrics;
  logger: Logger;
  clock: Clock;
}

/** A provider's options schema: its own fields plus the common ones. */
export type ProviderOptionsSchema<S extends Shape> = OptionsSchema<S & CommonFields>;

/** The options type callers write for a provider schema. */
export type OptionsOf<T> = T extends OptionsSchema<infer S> ? InputOf<S> : never;

/** The resolved settings of a provider schema. */
export type SettingsOf<T> = T extends OptionsSchema<infer S> ? OutputOf<S> : never;

/** What {@link defineProviderOptions} takes besides the fields. */
export interface ProviderOptionsConfig<S extends Shape> {
  /** Retry defaults of this provider, where they differ from {@link DEFAULT_RETRY_POLICY}. */
  retry?: Partial<RetryPolicy> | undefined;
  /** Checks across fields, after each was resolved (every problem is still reported at once). */
  check?:
    | ((values: OutputOf<S & CommonFields>, report: (path: string, message: string) => void) => void)
    | undefined;
}

/**
 * Declares a provider's options once, the common ones (`retry`, `timeouts`, `metrics`, `logger`, `clock`)
 * included. The schema gives the options type (`OptionsOf<typeof schema>`), validation, defaults,
 * environment fallbacks and the docs table.
 *
 * @example
 * ```ts
 * import { defineProviderOptions, option, type OptionsOf } from 'nebula-credential';
 * export const KV_OPTIONS = defineProviderOptions('kv', {
 *   url: option.string({ doc: 'base URL of the service', env: 'KV_URL', required: 'an https:// URL' }),
 * });
 * export type KvOptions = OptionsOf<typeof KV_OPTIONS>;
 * const { values } = KV_OPTIONS.resolve({ url: 'https://kv.example.com' });
 * console.log(values.url, values.timeouts.readMs);
 * ```
 */
export function defineProviderOptions<const S extends Shape>(
  provider: string,
  fields: S,
  config: ProviderOptionsConfig<S> = {},
): ProviderOptionsSchema<S> {
  return new OptionsSchema(provider, { ...fields, ...commonFields(config.retry ?? {}) }, config.check);
}

/** Picks the common settings out of a provider's resolved settings. */
export function commonSettings(values: ResolvedCommonOptions): ResolvedCommonOptions {
  const { retry, timeouts, metrics, logger, clock } = values;
  return { retry, timeouts, metrics, logger, clock };
}

const COMMON_ONLY = new Map<string, ProviderOptionsSchema<Record<never, never>>>();

/**
 * Validates and fills the common options alone (for code that drives an {@link OperationRunner} directly).
 *
 * @example
 * ```ts
 * import { resolveCommonOptions } from 'nebula-credential';
 * const common = resolveCommonOptions('example', { retry: { maxRetries: 2 } });
 * console.log(common.retry.maxRetries, common.timeouts.readMs); // 2 5000
 * ```
 */
export function resolveCommonOptions(
  provider: string,
  options: CommonProviderOptions = {},
): ResolvedCommonOptions {
  let schema = COMMON_ONLY.get(provider);
  if (!schema) {
    schema = defineProviderOptions(provider, {});
    COMMON_ONLY.set(provider, schema);
  }
  return commonSettings(schema.resolve(options).values);
}
