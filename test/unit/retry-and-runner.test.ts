import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { StorageError } from '../../src/core/errors.js';
import type { StorageMetrics } from '../../src/core/metrics.js';
import { OperationRunner } from '../../src/core/operation.js';
import { type CommonProviderOptions, resolveCommonOptions } from '../../src/core/options.js';
import { DEFAULT_RETRY_POLICY, retryDelayMs } from '../../src/core/retry.js';

function runner(options: CommonProviderOptions = {}): {
  run: OperationRunner;
  clock: ManualClock;
  metrics: StorageMetrics;
} {
  const clock = (options.clock as ManualClock | undefined) ?? new ManualClock(0, { autoAdvance: true });
  const common = resolveCommonOptions('test', { ...options, clock });
  const run = new OperationRunner(
    'test',
    common,
    (e) => new StorageError({ code: 'Unavailable', message: 'backend failed', cause: e }),
  );
  return { run, clock, metrics: common.metrics };
}

const transient = () => new StorageError({ code: 'Unavailable', message: 'try again' });

describe('retryDelayMs', () => {
  it('follows base × multiplier^n, capped, before jitter', () => {
    const mid = () => 0.5;
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((n) => retryDelayMs(DEFAULT_RETRY_POLICY, n, mid)),
      [100, 200, 400, 800, 1600],
    );
    assert.equal(retryDelayMs({ ...DEFAULT_RETRY_POLICY, maxDelayMs: 300 }, 4, mid), 300);
  });

  it('spreads each delay by ±jitter', () => {
    assert.equal(
      retryDelayMs(DEFAULT_RETRY_POLICY, 0, () => 0),
      80,
    );
    assert.equal(
      retryDelayMs(DEFAULT_RETRY_POLICY, 0, () => 0.999999),
      120,
    );
    assert.equal(
      retryDelayMs({ ...DEFAULT_RETRY_POLICY, jitter: 0 }, 3, () => 0),
      800,
    );
    const spread = new Set(Array.from({ length: 50 }, () => retryDelayMs(DEFAULT_RETRY_POLICY, 2)));
    assert.ok(spread.size > 5, 'jitter should vary delays');
  });

  it('validates every field and reports them all', () => {
    let error: unknown;
    try {
      resolveCommonOptions('test', { retry: { maxRetries: -1, baseDelayMs: 0, multiplier: 50, jitter: 2 } });
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof StorageError && error.code === 'InvalidConfig');
    assert.deepEqual(
      (error.details.issues ?? []).map((i) => i.path),
      ['retry.maxRetries', 'retry.baseDelayMs', 'retry.multiplier', 'retry.jitter'],
    );
  });
});

describe('OperationRunner', () => {
  it('retries retryable failures on the backoff schedule and counts them', async () => {
    const { run, clock, metrics } = runner();
    let calls = 0;
    const result = await run.run('retrieve', async () => {
      calls++;
      if (calls <= 5) throw transient();
      return 'ok';
    });
    assert.equal(result, 'ok');
    assert.equal(calls, 6);
    assert.equal(clock.sleeps.length, 5);
    const nominal = [100, 200, 400, 800, 1600];
    for (const [i, d] of clock.sleeps.entries()) {
      assert.ok(d >= nominal[i]! * 0.8 && d <= nominal[i]! * 1.2, `delay ${i} = ${d}`);
    }
    const [snap] = metrics.snapshot();
    assert.equal(snap?.retries, 5);
    assert.equal(snap?.count, 1);
    assert.equal(snap?.errorCount, 0);
  });

  it('gives up after maxRetries with the last error and the attempt count', async () => {
    const { run, metrics } = runner({ retry: { maxRetries: 2 } });
    let calls = 0;
    await assert.rejects(
      run.run('store', async () => {
        calls++;
        throw transient();
      }),
      (e: unknown) => e instanceof StorageError && e.code === 'Unavailable' && e.details.attempts === 3,
    );
    assert.equal(calls, 3);
    assert.equal(metrics.snapshot()[0]?.errors.Unavailable, 1);
  });

  it('never retries NotFound, PermissionDenied or validation errors', async () => {
    for (const code of [
      'NotFound',
      'PermissionDenied',
      'InvalidId',
      'SizeLimitExceeded',
      'AuthenticationFailed',
    ] as const) {
      const { run, clock } = runner();
      let calls = 0;
      await assert.rejects(
        run.run('retrieve', async () => {
          calls++;
          throw new StorageError({ code, message: code });
        }),
        (e: unknown) => e instanceof StorageError && e.code === code,
      );
      assert.equal(calls, 1, code);
      assert.equal(clock.sleeps.length, 0);
    }
  });

  it('maps foreign errors through the provider mapper and adds context', async () => {
    const { run } = runner({ retry: { maxRetries: 0 } });
    await assert.rejects(
      run.run(
        'exists',
        async () => {
          throw new Error('socket hang up');
        },
        { credentialId: 'db' },
      ),
      (e: unknown) =>
        e instanceof StorageError &&
        e.code === 'Unavailable' &&
        e.provider === 'test' &&
        e.operation === 'exists' &&
        e.credentialId === 'db',
    );
  });

  it('honours a server Retry-After above the computed delay', async () => {
    const { run, clock } = runner();
    let calls = 0;
    await run.run('list', async () => {
      if (calls++ === 0)
        throw new StorageError({
          code: 'RateLimited',
          message: 'slow down',
          details: { retryAfterMs: 1500 },
        });
    });
    assert.deepEqual(clock.sleeps, [1500]);
  });

  it('stops retrying when the next delay would pass the deadline', async () => {
    const { run, clock } = runner({ timeouts: { readMs: 1000 } });
    let calls = 0;
    await assert.rejects(
      run.run('retrieve', async () => {
        calls++;
        throw transient();
      }),
      (e: unknown) => e instanceof StorageError && e.code === 'Unavailable',
    );
    // 100 + 200 + 400 fit in 1000 ms; 800 more would not.
    assert.equal(calls, 4);
    assert.equal(clock.sleeps.length, 3);
  });

  it('aborts a hung call at the deadline with Timeout carrying the duration and operation', async () => {
    const { run } = runner({ timeouts: { readMs: 50 } });
    let sawAbort = false;
    await assert.rejects(
      run.run(
        'retrieve',
        ({ signal }) =>
          new Promise((_, reject) => {
            signal.addEventListener('abort', () => {
              sawAbort = true;
              reject(new Error('aborted'));
            });
          }),
      ),
      (e: unknown) =>
        e instanceof StorageError &&
        e.code === 'Timeout' &&
        e.details.durationMs === 50 &&
        e.operation === 'retrieve' &&
        !e.retryable,
    );
    assert.ok(sawAbort, 'the attempt signal must abort the underlying request');
  });

  it('ends even when the call ignores its signal', async () => {
    const { run } = runner({ timeouts: { writeMs: 30 } });
    await assert.rejects(
      run.run('store', () => new Promise(() => {})),
      (e: unknown) => e instanceof StorageError && e.code === 'Timeout',
    );
  });

  it('stops at once with Aborted when the caller aborts', async () => {
    const { run } = runner({ clock: new ManualClock(0) });
    const controller = new AbortController();
    const pending = run.run(
      'retrieve',
      async () => {
        throw transient();
      },
      { signal: controller.signal },
    );
    setImmediate(() => controller.abort());
    await assert.rejects(pending, (e: unknown) => e instanceof StorageError && e.code === 'Aborted');
  });

  it('uses the write deadline for store and delete, the connect deadline for connect', async () => {
    const { run } = runner({ timeouts: { readMs: 10_000, writeMs: 20, connectMs: 25 } });
    const hang = () => new Promise<never>(() => {});
    await assert.rejects(
      run.run('delete', hang),
      (e: unknown) => (e as StorageError).details.durationMs === 20,
    );
    await assert.rejects(
      run.run('connect', hang),
      (e: unknown) => (e as StorageError).details.durationMs === 25,
    );
  });
});
