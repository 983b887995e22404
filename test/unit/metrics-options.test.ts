import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bridgeMetricsToOpenTelemetry, StorageMetrics } from '../../src/core/metrics.js';

describe('StorageMetrics', () => {
  it('keeps counts, errors by code, retries and latency quantiles per provider and operation', () => {
    const m = new StorageMetrics();
    for (let i = 1; i <= 100; i++) m.recordOperation('local', 'retrieve', i);
    m.recordOperation('local', 'retrieve', 5, 'NotFound');
    m.recordOperation('aws', 'store', 20, 'Timeout');
    m.recordRetry('aws', 'store');
    const [aws, local] = m.snapshot();
    assert.equal(aws?.provider, 'aws');
    assert.deepEqual(aws?.errors, { Timeout: 1 });
    assert.equal(aws?.retries, 1);
    assert.equal(local?.count, 101);
    assert.equal(local?.errorCount, 1);
    // Buckets are 10% wide: each quantile is within 10% above the exact value.
    const within = (v: number | undefined, exact: number) =>
      v !== undefined && v >= exact && v <= exact * 1.1 + 0.01;
    assert.ok(within(local?.latencyMs.p50, 50), String(local?.latencyMs.p50));
    assert.ok(within(local?.latencyMs.p95, 95), String(local?.latencyMs.p95));
    assert.ok(within(local?.latencyMs.p99, 99), String(local?.latencyMs.p99));
    assert.equal(local?.latencyMs.max, 100);
    m.reset();
    assert.deepEqual(m.snapshot(), []);
  });

  it('bridges every event to OpenTelemetry instruments', () => {
    const recorded: { instrument: string; value: number; attributes?: Record<string, string> }[] = [];
    const meter = {
      createCounter: (name: string) => ({
        add: (value: number, attributes?: Record<string, string>) =>
          recorded.push({ instrument: name, value, ...(attributes ? { attributes } : {}) }),
      }),
      createHistogram: (name: string) => ({
        record: (value: number, attributes?: Record<string, string>) =>
          recorded.push({ instrument: name, value, ...(attributes ? { attributes } : {}) }),
      }),
    };
    const m = new StorageMetrics();
    const stop = bridgeMetricsToOpenTelemetry(m, meter);
    m.recordOperation('vault', 'retrieve', 250, 'PermissionDenied');
    m.recordRetry('vault', 'retrieve');
    stop();
    m.recordOperation('vault', 'retrieve', 1);
    assert.deepEqual(recorded, [
      {
        instrument: 'nebula_credential.operations',
        value: 1,
        attributes: { provider: 'vault', operation: 'retrieve', 'error.type': 'PermissionDenied' },
      },
      {
        instrument: 'nebula_credential.operation.duration',
        value: 0.25,
        attributes: { provider: 'vault', operation: 'retrieve', 'error.type': 'PermissionDenied' },
      },
      {
        instrument: 'nebula_credential.retries',
        value: 1,
        attributes: { provider: 'vault', operation: 'retrieve' },
      },
    ]);
  });
});
