import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseInterval } from '../../src/cli/commands/watch.js';
import { EXIT_OK, EXIT_USAGE } from '../../src/cli/exit-codes.js';
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/run.js';
import { ManualClock } from '../../src/core/clock.js';
import { EncryptionManager } from '../../src/core/crypto.js';
import type { StorageProvider } from '../../src/core/provider.js';
import { CredentialStore } from '../../src/core/store.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';

const SENTINEL = 'SENTINEL-watch-7d21';

function capture() {
  const chunks: string[] = [];
  let waiters: (() => void)[] = [];
  return {
    write: (c: string | Uint8Array) => {
      chunks.push(typeof c === 'string' ? c : Buffer.from(c).toString('utf8'));
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    },
    text: () => chunks.join(''),
    /** Resolves once the output contains `text`. */
    async until(text: string) {
      while (!chunks.join('').includes(text)) await new Promise<void>((r) => waiters.push(r));
    },
  };
}

describe('CLI: watch', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nebula-cli-watch-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const setup = () => {
    const provider = new MemoryStorageProvider({ retry: { maxRetries: 0 } });
    const clock = new ManualClock(Date.UTC(2026, 2, 1));
    const stdout = capture();
    const stderr = capture();
    let stop: (signal: string) => void = () => {};
    // The command closes what it opens; the test keeps using the same provider afterwards.
    const shared = new Proxy(provider, {
      get: (target, key) => {
        if (key === 'close') return async () => {};
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as StorageProvider;
    const io: CliIo = {
      stdin: { isTTY: false, async *[Symbol.asyncIterator]() {} },
      stdout,
      stderr,
      env: {},
      cwd: dir,
      home: dir,
      openStorage: async () => shared,
      waitForStop: () => new Promise<string>((resolve) => (stop = resolve)),
      clock,
    };
    const store = new CredentialStore(provider, EncryptionManager.generate());
    return { provider, clock, stdout, stderr, io, store, stop: (s: string) => stop(s) };
  };

  it('prints one JSON object per change, never the value, until interrupted', async () => {
    const t = setup();
    await t.store.put('db_password', SENTINEL);
    const done = runCli(['watch', 'db_password', '--provider', 'memory', '--interval', '2s', '--json'], t.io);
    await t.stderr.until('watching "db_password" on memory every 2000 ms');
    // Polls are jittered by up to 10%: moving 2.2 s always reaches the next one.
    const step = async () => {
      const slept = t.clock.nextSleep();
      await t.clock.advance(2_200);
      await slept;
    };
    await t.store.put('db_password', `${SENTINEL}-2`);
    await step();
    await t.store.delete('db_password');
    await step();
    t.stop('SIGINT');
    assert.equal(await done, EXIT_OK);
    const lines = t.stdout
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    assert.deepEqual(
      lines.map((l) => [l['id'], l['kind'], l['version']]),
      [
        ['db_password', 'changed', '2'],
        ['db_password', 'deleted', undefined],
      ],
    );
    assert.equal(lines[0]?.['time'], new Date(Date.UTC(2026, 2, 1, 0, 0, 2, 200)).toISOString());
    assert.ok(!t.stdout.text().includes(SENTINEL) && !t.stderr.text().includes(SENTINEL));
  });

  it('prints plain lines for a tag filter, and reports backend errors on standard error while retrying', async () => {
    const t = setup();
    await t.store.put('a', 'x', { tags: { team: 'blue' } });
    const done = runCli(['watch', '--tag', 'team=blue', '--provider', 'memory', '--interval', '500ms'], t.io);
    await t.stderr.until('watching credentials tagged team=blue');
    t.provider.failNext({ code: 'Unavailable', operations: ['listVersions'] });
    const slept = t.clock.nextSleep();
    await t.clock.advance(550);
    const backoff = await slept;
    assert.ok(backoff >= 900 && backoff <= 1_100, `did not back off after the failure (${backoff} ms)`);
    assert.match(t.stderr.text(), /watch: error \[Unavailable\]: injected Unavailable fault \(retrying\)/);
    await t.store.put('b', 'y', { tags: { team: 'blue' } });
    const next = t.clock.nextSleep();
    await t.clock.advance(1_100);
    await next;
    t.stop('SIGTERM');
    assert.equal(await done, EXIT_OK);
    assert.match(t.stdout.text(), /^2026-03-01T00:00:01\.650Z changed b version 1\n$/);
  });

  it('refuses a missing id, an id with --tag, and a bad interval', async () => {
    for (const argv of [
      ['watch', '--provider', 'memory'],
      ['watch', 'a', '--tag', 'x=y', '--provider', 'memory'],
      ['watch', 'a', '--interval', '5ms', '--provider', 'memory'],
    ]) {
      const t = setup();
      assert.equal(await runCli(argv, t.io), EXIT_USAGE, argv.join(' '));
      assert.match(t.stderr.text(), /watch --help/);
    }
    assert.equal(parseInterval('30'), 30_000);
    assert.equal(parseInterval('500ms'), 500);
    assert.equal(parseInterval('1.5m'), 90_000);
    assert.throws(() => parseInterval('soon'));
  });

  it('is in the help', async () => {
    const t = setup();
    assert.equal(await runCli(['help', 'watch'], t.io), EXIT_OK);
    assert.match(t.stdout.text(), /Usage: nebula-credential watch <id>/);
  });
});
