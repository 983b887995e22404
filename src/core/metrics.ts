import { describeType, invalidArgument } from './arguments.js';
import type { StorageErrorCode } from './errors.js';

/** Runs one listener; a listener's failure is its own and must not fail the storage operation it observes. */
function notify(call: () => void): void {
  try {
    call();
  } catch {
    // ignored on purpose (see above)
  }
}

// Log-spaced bucket bounds from 10 µs to ~10 min at 10% resolution: fixed memory per series, and any
// quantile is known to within one bucket's width.
const BUCKET_GROWTH = 1.1;
const FIRST_BOUND_MS = 0.01;
const INVERSE_LOG_GROWTH = 1 / Math.log(BUCKET_GROWTH);
const BUCKET_BOUNDS: readonly number[] = (() => {
  const bounds: number[] = [];
  for (let b = FIRST_BOUND_MS; b < 600_000; b *= BUCKET_GROWTH) bounds.push(b);
  return bounds;
})();

class LatencyHistogram {
  readonly counts = new Array<number>(BUCKET_BOUNDS.length + 1).fill(0);
  total = 0;
  sum = 0;
  max = 0;

  record(ms: number): void {
    const index = ms <= FIRST_BOUND_MS ? 0 : Math.ceil(Math.log(ms / FIRST_BOUND_MS) * INVERSE_LOG_GROWTH);
    this.counts[Math.min(index, BUCKET_BOUNDS.length)]!++;
    this.total++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.ceil(q * this.total);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(BUCKET_BOUNDS[i] ?? this.max, this.max);
    }
    return this.max;
  }
}

interface Series {
  count: number;
  errors: Partial<Record<StorageErrorCode, number>>;
  retries: number;
  latency: LatencyHistogram;
}

/** Figures for one provider and operation. Latencies are in milliseconds, upper bounds of 10% buckets. */
export interface OperationMetricsSnapshot {
  provider: string;
  operation: string;
  count: number;
  errorCount: number;
  errors: Partial<Record<StorageErrorCode, number>>;
  retries: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number };
}

/** A listener notified of every recorded event (used by the OpenTelemetry bridge). */
export interface MetricsListener {
  /** Called after each operation, with its duration and, when it failed, its error code. */
  operation?(event: {
    provider: string;
    operation: string;
    durationMs: number;
    errorCode?: StorageErrorCode;
  }): void;
  /** Called before each retry of an operation. */
  retry?(event: { provider: string; operation: string }): void;
  /** A read-path event (cache hit, miss, stale value served, single-flight join, backend request...). */
  readPath?(event: { provider: string; event: ReadPathEvent; count: number }): void;
}

/**
 * What the store's read path counts, per provider:
 * - `logicalRead`: a `get`, `describe` or one id of `getMany`, as the application asked;
 * - `hit` / `negativeHit`: answered from the cache (a value, or a cached `NotFound`);
 * - `miss`: not in the cache, or expired;
 * - `singleFlightJoin`: joined a backend request already in flight for the same id;
 * - `backendRequest`: a read sent to the provider (a batch counts once per id it carries);
 * - `staleServed`: the backend failed and the last good value was served (`result.stale`);
 * - `eviction`: an entry pushed out by `maxEntries`;
 * - `circuitRejected`: a call refused at once because the circuit breaker is open.
 */
export type ReadPathEvent =
  | 'logicalRead'
  | 'hit'
  | 'negativeHit'
  | 'miss'
  | 'singleFlightJoin'
  | 'backendRequest'
  | 'staleServed'
  | 'eviction'
  | 'circuitRejected';

const READ_PATH_EVENTS: readonly ReadPathEvent[] = [
  'logicalRead',
  'hit',
  'negativeHit',
  'miss',
  'singleFlightJoin',
  'backendRequest',
  'staleServed',
  'eviction',
  'circuitRejected',
];

/** Read-path figures of one provider (see {@link ReadPathEvent}), with the two ratios people ask for. */
export interface ReadPathMetricsSnapshot extends Record<ReadPathEvent, number> {
  provider: string;
  /** (hits + negative hits) / logical reads; 0 before any read. */
  hitRatio: number;
  /** Backend requests per logical read: what the application pays the backend for each read it makes. */
  backendRequestsPerRead: number;
}

/**
 * Per provider and per operation: counts, latency histogram (p50/p95/p99), retries and errors by code.
 * Pass one instance to several providers to aggregate them; each provider gets its own by default.
 *
 * @example
 * ```ts
 * import { StorageMetrics, createStorageProvider } from 'nebula-credential';
 * const metrics = new StorageMetrics();
 * const provider = await createStorageProvider({ provider: 'memory', metrics });
 * await provider.exists('a');
 * console.log(metrics.snapshot()[0]?.count); // 1
 * ```
 */
export class StorageMetrics {
  readonly #series = new Map<string, Series>();
  readonly #byProvider = new Map<string, Map<string, Series>>();
  readonly #listeners = new Set<MetricsListener>();
  readonly #readPath = new Map<string, Record<ReadPathEvent, number>>();

  /** Records one finished operation (`errorCode` undefined for success). */
  recordOperation(
    provider: string,
    operation: string,
    durationMs: number,
    errorCode?: StorageErrorCode,
  ): void {
    const s = this.#get(provider, operation);
    s.count++;
    s.latency.record(durationMs);
    if (errorCode) s.errors[errorCode] = (s.errors[errorCode] ?? 0) + 1;
    // Recorded on every operation: with no listener (the usual case) nothing more is allocated.
    if (this.#listeners.size === 0) return;
    const event = { provider, operation, durationMs, ...(errorCode ? { errorCode } : {}) };
    for (const l of this.#listeners) notify(() => l.operation?.(event));
  }

  /** Records one retry of an operation. */
  recordRetry(provider: string, operation: string): void {
    this.#get(provider, operation).retries++;
    if (this.#listeners.size === 0) return;
    for (const l of this.#listeners) notify(() => l.retry?.({ provider, operation }));
  }

  /** Counts `count` read-path events of one kind for `provider`. */
  recordReadPath(provider: string, event: ReadPathEvent, count = 1): void {
    let counts = this.#readPath.get(provider);
    if (!counts) {
      counts = Object.fromEntries(READ_PATH_EVENTS.map((e) => [e, 0])) as Record<ReadPathEvent, number>;
      this.#readPath.set(provider, counts);
    }
    counts[event] += count;
    if (this.#listeners.size === 0) return;
    for (const l of this.#listeners) l.readPath?.({ provider, event, count });
  }

  /**
   * The read-path figures so far, one entry per provider, sorted.
   *
   * @example
   * ```ts
   * const [figures] = metrics.readPathSnapshot();
   * console.log(figures?.hitRatio, figures?.backendRequestsPerRead);
   * ```
   */
  readPathSnapshot(): ReadPathMetricsSnapshot[] {
    return [...this.#readPath.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([provider, c]) => ({
        provider,
        ...c,
        hitRatio: c.logicalRead === 0 ? 0 : (c.hit + c.negativeHit) / c.logicalRead,
        backendRequestsPerRead: c.logicalRead === 0 ? 0 : c.backendRequest / c.logicalRead,
      }));
  }

  /** The figures so far, one entry per provider and operation, sorted. */
  snapshot(): OperationMetricsSnapshot[] {
    return [...this.#series.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, s]) => {
        const [provider, operation] = key.split('\u0000') as [string, string];
        const errorCount = Object.values(s.errors).reduce((a, b) => a + (b ?? 0), 0);
        return {
          provider,
          operation,
          count: s.count,
          errorCount,
          errors: { ...s.errors },
          retries: s.retries,
          latencyMs: {
            p50: s.latency.quantile(0.5),
            p95: s.latency.quantile(0.95),
            p99: s.latency.quantile(0.99),
            max: s.latency.max,
            mean: s.count === 0 ? 0 : s.latency.sum / s.count,
          },
        };
      });
  }

  /** Forgets everything recorded. */
  reset(): void {
    this.#series.clear();
    this.#byProvider.clear();
    this.#readPath.clear();
  }

  /**
   * Subscribes to every event; returns the unsubscribe function. A listener is an object with optional
   * `operation` and `retry` methods; one that throws is ignored, never failing the operation it observes.
   */
  subscribe(listener: MetricsListener): () => void {
    if (typeof listener !== 'object' || listener === null) {
      throw invalidArgument(
        `a metrics listener must be an object with operation() and/or retry() methods (got ${describeType(listener)})`,
      );
    }
    for (const method of ['operation', 'retry'] as const) {
      const fn = (listener as unknown as Record<string, unknown>)[method];
      if (fn !== undefined && typeof fn !== 'function') {
        throw invalidArgument(`the listener's ${method} must be a function (got ${describeType(fn)})`);
      }
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #get(provider: string, operation: string): Series {
    // One map per provider, so the hot path builds no key string.
    let byOperation = this.#byProvider.get(provider);
    if (!byOperation) {
      byOperation = new Map();
      this.#byProvider.set(provider, byOperation);
    }
    let s = byOperation.get(operation);
    if (!s) {
      s = { count: 0, errors: {}, retries: 0, latency: new LatencyHistogram() };
      byOperation.set(operation, s);
      this.#series.set(`${provider}\u0000${operation}`, s);
    }
    return s;
  }
}

/** The part of an OpenTelemetry `Meter` the bridge uses (so `@opentelemetry/api` stays optional). */
export interface OpenTelemetryMeterLike {
  /** Creates a counter (OpenTelemetry's `Meter.createCounter`). */
  createCounter(
    name: string,
    options?: { description?: string; unit?: string },
  ): {
    add(value: number, attributes?: Record<string, string>): void;
  };
  /** Creates a histogram (OpenTelemetry's `Meter.createHistogram`). */
  createHistogram(
    name: string,
    options?: { description?: string; unit?: string },
  ): {
    record(value: number, attributes?: Record<string, string>): void;
  };
}

/**
 * Mirrors every event of `metrics` into OpenTelemetry instruments created on `meter`:
 * `nebula_credential.operations` (counter), `nebula_credential.operation.duration` (histogram, seconds),
 * `nebula_credential.retries` (counter), `nebula_credential.read_path` (counter of read-path events, attribute
 * `event`); attributes `provider`, `operation`, and `error.type` on failures.
 * Returns a function that stops the bridge.
 *
 * @example
 * ```ts
 * import { metrics as otel } from '@opentelemetry/api';
 * import { StorageMetrics, bridgeMetricsToOpenTelemetry } from 'nebula-credential';
 * const metrics = new StorageMetrics();
 * const stop = bridgeMetricsToOpenTelemetry(metrics, otel.getMeter('nebula-credential'));
 * ```
 */
export function bridgeMetricsToOpenTelemetry(
  metrics: StorageMetrics,
  meter: OpenTelemetryMeterLike,
): () => void {
  if (
    typeof meter !== 'object' ||
    meter === null ||
    typeof meter.createCounter !== 'function' ||
    typeof meter.createHistogram !== 'function'
  ) {
    throw invalidArgument(
      `bridgeMetricsToOpenTelemetry needs an OpenTelemetry Meter (with createCounter and createHistogram; got ${describeType(meter)})`,
    );
  }
  if (!(metrics instanceof StorageMetrics)) {
    throw invalidArgument(
      `bridgeMetricsToOpenTelemetry needs a StorageMetrics (got ${describeType(metrics)})`,
    );
  }
  const operations = meter.createCounter('nebula_credential.operations', {
    description: 'Storage operations finished, by provider, operation and error type',
  });
  const duration = meter.createHistogram('nebula_credential.operation.duration', {
    description: 'Duration of storage operations, retries included',
    unit: 's',
  });
  const retries = meter.createCounter('nebula_credential.retries', { description: 'Retried attempts' });
  const readPath = meter.createCounter('nebula_credential.read_path', {
    description:
      'Read-path events: cache hits and misses, stale values served, single-flight joins, backend requests',
  });
  return metrics.subscribe({
    operation(e) {
      const attributes: Record<string, string> = { provider: e.provider, operation: e.operation };
      if (e.errorCode) attributes['error.type'] = e.errorCode;
      operations.add(1, attributes);
      duration.record(e.durationMs / 1000, attributes);
    },
    retry(e) {
      retries.add(1, { provider: e.provider, operation: e.operation });
    },
    readPath(e) {
      readPath.add(e.count, { provider: e.provider, event: e.event });
    },
  });
}
