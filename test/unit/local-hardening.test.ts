import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  constants,
  promises as fsp,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../../src/core/clock.js';
import { EncryptionManager } from '../../src/core/crypto.js';
import { encodeCredentialDocument } from '../../src/core/document.js';
import { StorageError } from '../../src/core/errors.js';
import { createMetadata } from '../../src/core/metadata.js';
import { DEFAULT_TIMEOUTS } from '../../src/core/options.js';
import { CredentialStore } from '../../src/core/store.js';
import { type LocalStorageOptions, LocalStorageProvider } from '../../src/providers/local.js';
import { credentialPathParts } from '../../src/providers/local-layout.js';
import { acquireLock } from '../../src/providers/local-lock.js';
import {
  storageErrorOf as failure,
  fakeData,
  HOST_TAG,
  lockDirOf,
  recordingLogger,
  tempRoot,
  withProvider,
} from './local-helpers.js';

const LONG_ID = 'q'.repeat(200);
const CHILD = fileURLToPath(new URL('../reliability/fixtures/local-child.js', import.meta.url));
/** Moves the `free` token of `lock` to `name`, as a holder in another process does. */
const plantToken = (lock: string, name: string) => renameSync(join(lock, 'free'), join(lock, name));
/** Lets pending I/O callbacks and promise continuations run, up to `rounds` turns of the event loop. */
// Waits for the provider's real file-system work between virtual clock steps. Under a loaded machine that
// work can take many event-loop turns, so the guard is generous real time (a hang bound, not a timing check).
async function until(condition: () => boolean, what: string, guardMs = 30_000): Promise<void> {
  const giveUp = Date.now() + guardMs;
  for (let i = 0; !condition() && Date.now() < giveUp; i++) {
    await new Promise((r) => (i < 1_000 ? setImmediate(r) : setTimeout(r, 1)));
  }
  assert.ok(condition(), `timed out waiting until ${what}`);
}

describe('LocalStorageProvider: a committed store never reports failure', () => {
  it('resolves when a delete removes the piece directory between the commit and the directory fsync', async () => {
    await withProvider('fsync-race', async (p, dir) => {
      const [piece, name] = credentialPathParts(LONG_ID) as [string, string];
      const pieceDir = join(dir, piece);
      await p.store(LONG_ID, fakeData('v1'), createMetadata());
      // The race, made deterministic: the directory fsync that follows the commit finds the directory gone,
      // as it does when a delete in another process takes the lock right after the commit and removes the
      // file and its emptied piece directory.
      const realOpen = fsp.open;
      let injected = false;
      fsp.open = (async (path: string, flags?: number, mode?: number) => {
        if (!injected && path === pieceDir && typeof flags === 'number' && flags & constants.O_DIRECTORY) {
          injected = true;
          rmSync(join(pieceDir, name));
          rmdirSync(pieceDir);
        }
        return realOpen(path, flags, mode);
      }) as typeof fsp.open;
      try {
        await p.store(LONG_ID, fakeData('v2'), createMetadata());
      } finally {
        fsp.open = realOpen;
      }
      assert.ok(injected, 'the directory fsync was not reached');
      assert.equal(await p.exists(LONG_ID), false, 'the delete ordered after the store wins');
      await p.store(LONG_ID, fakeData('v3'), createMetadata());
      assert.equal(Buffer.from((await p.retrieve(LONG_ID)).data.ciphertext).toString(), 'v3');
    });
  });
});

describe('LocalStorageProvider lock staleness (renewed tokens, judged on the waiter’s own clock)', () => {
  it('breaks a token stamped an hour in the future that nobody renews (clock skew, or a clock stepped back)', async () => {
    const logger = recordingLogger();
    const clock = new ManualClock(Date.now(), { autoAdvance: true });
    await withProvider(
      'future-lock',
      async (p, dir) => {
        await p.store('skewed', fakeData('v1'), createMetadata());
        const lock = lockDirOf(dir, 'skewed');
        plantToken(lock, `held-1-000000000000-${Date.now() + 3_600_000}-abcd`);
        await p.store('skewed', fakeData('v2'), createMetadata());
        assert.equal(Buffer.from((await p.retrieve('skewed')).data.ciphertext).toString(), 'v2');
        assert.deepEqual(readdirSync(lock), ['free']);
        const warning = logger.lines.find((l) => l.level === 'warn' && /stale lock/.test(l.message));
        assert.ok(warning, 'breaking the lock was not logged');
        assert.equal(warning.fields['credentialId'], 'skewed');
      },
      { logger, clock, lockStaleMs: 1_000, timeouts: { writeMs: 5_000 } },
    );
  });

  it('with the default timings, a live holder that stops renewing is broken before the waiting writer gives up', async () => {
    const clock = new ManualClock(Date.now(), { autoAdvance: true });
    const logger = recordingLogger();
    let brokenAt: number | undefined;
    const warn = logger.warn;
    logger.warn = (fields, message) => {
      brokenAt ??= clock.now();
      warn(fields, message);
    };
    await withProvider(
      'silent-lock',
      async (p, dir) => {
        await p.store('stuck', fakeData('v1'), createMetadata());
        const lock = lockDirOf(dir, 'stuck');
        // This very process is alive, so the token is not a dead writer's: only its silence can break it.
        plantToken(lock, `held-${process.pid}-${HOST_TAG}-${clock.now()}-abcd`);
        const started = clock.now();
        await p.store('stuck', fakeData('v2'), createMetadata());
        assert.ok(brokenAt !== undefined, 'the lock was not broken');
        assert.ok(
          brokenAt - started < DEFAULT_TIMEOUTS.writeMs,
          'the lock was broken only after the write deadline had passed',
        );
        assert.equal(Buffer.from((await p.retrieve('stuck')).data.ciphertext).toString(), 'v2');
      },
      { clock, logger },
    );
  });

  it('never breaks a holder that keeps renewing its token, however long it holds it', async () => {
    const clock = new ManualClock(Date.now());
    await withProvider(
      'renewed-lock',
      async (p, dir) => {
        await p.store('busy', fakeData('v1'), createMetadata());
        const lock = lockDirOf(dir, 'busy');
        let token = `held-${process.pid}-${HOST_TAG}-${clock.now()}-0`;
        plantToken(lock, token);
        let settled = false;
        const write = p.store('busy', fakeData('v2'), createMetadata()).finally(() => {
          settled = true;
        });
        // Renew every 300 ms (virtual) for 3 s, three times lockStaleMs: each renewal is a new token name.
        for (let i = 1; i <= 10; i++) {
          const sleeping = clock.sleeps.length;
          await until(() => clock.sleeps.length > sleeping, 'the writer waits on the clock');
          const renewed = `held-${process.pid}-${HOST_TAG}-${clock.now()}-${i}`;
          renameSync(join(lock, token), join(lock, renewed));
          token = renewed;
          await clock.advance(300);
          assert.equal(settled, false, 'a renewing holder lost its lock');
        }
        assert.deepEqual(readdirSync(lock), [token]);
        // The holder falls silent: the writer breaks the lock once lockStaleMs passes without a renewal.
        const silentSince = clock.now() - 300;
        for (let i = 0; i < 200 && !settled; i++) {
          const sleeping = clock.sleeps.length;
          await until(() => settled || clock.sleeps.length > sleeping, 'the writer waits on the clock');
          if (!settled) await clock.advance(50);
        }
        await write;
        assert.ok(clock.now() - silentSince >= 1_000, 'broken before lockStaleMs of silence');
        assert.equal(Buffer.from((await p.retrieve('busy')).data.ciphertext).toString(), 'v2');
      },
      { clock, lockStaleMs: 1_000, timeouts: { writeMs: 60_000 } },
    );
  });

  it('a holder renews its token every lockStaleMs/4 while it holds the lock, and gives it back on release', async () => {
    const { root, cleanup } = tempRoot('renew');
    try {
      const p = new LocalStorageProvider({ directory: join(root, 'c') });
      await p.store('x', fakeData('v'), createMetadata());
      await p.close();
      const lock = lockDirOf(join(root, 'c'), 'x');
      const clock = new ManualClock(Date.now());
      const held = await acquireLock(lock, {
        staleMs: 1_000,
        signal: () => new AbortController().signal,
        clock,
      });
      const first = readdirSync(lock);
      assert.match(first[0] ?? '', /^held-/);
      assert.deepEqual(clock.sleeps, [250], 'the renewal is not scheduled at lockStaleMs/4');
      await clock.advance(250);
      await until(() => readdirSync(lock)[0] !== first[0], 'the token is renewed');
      assert.match(
        readdirSync(lock)[0] ?? '',
        new RegExp(`^held-${process.pid}-${HOST_TAG}-${clock.now()}-`),
      );
      await held.release();
      assert.deepEqual(readdirSync(lock), ['free']);
    } finally {
      cleanup();
    }
  });
});

describe('LocalStorageProvider secure delete and hard links', () => {
  it('does not overwrite a file that has other hard links (a backup made with cp -al keeps its bytes): unlinks it and warns', async () => {
    const logger = recordingLogger();
    await withProvider(
      'hardlink',
      async (p, dir, root) => {
        const sentinel = 'SENTINEL-hardlink-8d2f';
        await p.store('linked', fakeData(sentinel), createMetadata());
        const backup = join(root, 'backup.enc');
        linkSync(join(dir, 'linked.enc'), backup);
        const before = readFileSync(backup);
        await p.delete('linked');
        assert.deepEqual(readFileSync(backup), before, 'the delete overwrote a hard-linked copy');
        assert.equal(await p.exists('linked'), false);
        assert.deepEqual(readdirSync(dir), ['.nebula-locks']);
        const warning = logger.lines.find((l) => l.level === 'warn' && l.fields['credentialId'] === 'linked');
        assert.ok(warning, 'no warning about the hard link');
        assert.match(warning.message, /hard link/);
        assert.equal(warning.fields['links'], 2);
        assert.ok(!JSON.stringify(logger.lines).includes(sentinel));
        assert.ok(!JSON.stringify(logger.lines).includes(Buffer.from(sentinel).toString('base64')));
      },
      { logger },
    );
  });
});

describe('LocalStorageProvider internal directories are never followed through symlinks', () => {
  it('refuses a symlinked piece directory: a store never lands outside, get and delete refuse, exists and list agree', async () => {
    await withProvider('piece-link', async (p, dir, root) => {
      const [piece, name] = credentialPathParts(LONG_ID) as [string, string];
      const outside = join(root, 'world-writable');
      mkdirSync(outside);
      chmodSync(outside, 0o777);
      symlinkSync(outside, join(dir, piece));
      const sentinel = 'SENTINEL-piece-link-51c0';
      const refused = await failure(p.store(LONG_ID, fakeData(sentinel), createMetadata()));
      assert.equal(refused.code, 'PermissionDenied');
      assert.equal(refused.credentialId, LONG_ID);
      assert.match(refused.message, /symbolic link/);
      assert.ok(!refused.message.includes(sentinel));
      assert.deepEqual(readdirSync(outside), [], 'the credential landed outside the store');
      // A document planted behind the link is not read back, not listed, and not wiped by delete.
      const planted = encodeCredentialDocument(fakeData('planted'), createMetadata());
      writeFileSync(join(outside, name), planted, { mode: 0o600 });
      assert.equal((await failure(p.retrieve(LONG_ID))).code, 'PermissionDenied');
      assert.equal(await p.exists(LONG_ID), false);
      assert.deepEqual(await p.list(), []);
      assert.equal((await failure(p.delete(LONG_ID))).code, 'PermissionDenied');
      assert.equal(readFileSync(join(outside, name), 'utf8'), planted);
      // Once the link is removed, the id works normally.
      rmSync(join(dir, piece));
      await p.store(LONG_ID, fakeData('mine'), createMetadata());
      assert.deepEqual(await p.list(), [LONG_ID]);
      assert.equal(lstatSync(join(dir, piece)).isDirectory(), true);
    });
  });

  it('replaces a symlinked lock directory (it holds only a token) instead of locking through it', async () => {
    const logger = recordingLogger();
    await withProvider(
      'lock-link',
      async (p, dir, root) => {
        await p.store('x', fakeData('v1'), createMetadata());
        const lock = lockDirOf(dir, 'x');
        rmSync(lock, { recursive: true });
        const outside = join(root, 'outside-lock');
        mkdirSync(outside);
        writeFileSync(join(outside, 'free'), '');
        symlinkSync(outside, lock);
        await p.store('x', fakeData('v2'), createMetadata());
        assert.equal(lstatSync(lock).isSymbolicLink(), false, 'the lock was taken through a symbolic link');
        assert.deepEqual(readdirSync(lock), ['free']);
        assert.deepEqual(readdirSync(outside), ['free']);
        assert.ok(logger.lines.some((l) => l.level === 'warn' && /symbolic link/.test(l.message)));
      },
      { logger },
    );
  });

  it('replaces a symlinked .nebula-locks directory at connect(): no lock is ever made outside the store', async () => {
    const { root, cleanup } = tempRoot('locks-link');
    try {
      const dir = join(root, 'credentials');
      const first = new LocalStorageProvider({ directory: dir });
      await first.connect();
      await first.close();
      const outside = join(root, 'outside-locks');
      mkdirSync(outside);
      chmodSync(outside, 0o777);
      rmSync(join(dir, '.nebula-locks'), { recursive: true });
      symlinkSync(outside, join(dir, '.nebula-locks'));
      const p = new LocalStorageProvider({ directory: dir });
      await p.store('y', fakeData('v'), createMetadata());
      await p.close();
      assert.equal(lstatSync(join(dir, '.nebula-locks')).isSymbolicLink(), false);
      assert.deepEqual(readdirSync(outside), [], 'a lock was made outside the store');
    } finally {
      cleanup();
    }
  });
});

describe('CredentialStore.put over an unreadable local credential', () => {
  for (const damage of ['truncated', 'fifo'] as const) {
    it(`replaces a ${damage === 'fifo' ? 'FIFO sitting in place of the file' : 'truncated file'}, with a warning naming the id and no value`, async () => {
      const logger = recordingLogger();
      await withProvider(
        `repair-${damage}`,
        async (p, dir) => {
          const store = new CredentialStore(p, EncryptionManager.generate());
          const oldValue = 'SENTINEL-old-value-77a1';
          const newValue = 'SENTINEL-new-value-04be';
          await store.put('damaged', oldValue);
          const file = join(dir, 'damaged.enc');
          if (damage === 'truncated') truncateSync(file, 20);
          else {
            rmSync(file);
            execFileSync('mkfifo', ['-m', '600', file]);
          }
          assert.equal((await failure(store.get('damaged'))).code, 'Corrupted');
          await store.put('damaged', newValue);
          assert.equal((await store.get('damaged')).secret.expose(), newValue);
          const warning = logger.lines.find(
            (l) => l.level === 'warn' && l.fields['credentialId'] === 'damaged',
          );
          assert.ok(warning, 'replacing an unreadable credential was not logged');
          assert.match(warning.message, /unreadable/);
          const logged = JSON.stringify(logger.lines);
          assert.ok(!logged.includes(oldValue) && !logged.includes(newValue), 'a value reached the log');
          // The next put of a readable credential is quiet.
          const warnings = logger.lines.filter((l) => l.level === 'warn').length;
          await store.put('damaged', 'third');
          assert.equal(logger.lines.filter((l) => l.level === 'warn').length, warnings);
        },
        { logger },
      );
    });
  }
});

describe('Local provider messages say what happened', () => {
  it('a missing directory on a read-only file system says read-only, not "removed while in use"', (t) => {
    // A private mount namespace (unshare) holds a read-only tmpfs: nothing to clean up, nothing left mounted.
    const mnt = tempRoot('ro');
    try {
      const script = [
        'set -e',
        `mount -t tmpfs -o mode=0700 tmpfs ${mnt.root}`,
        // The store's directory and lock root exist (connect succeeds); the long id's piece directory is missing.
        `mkdir -m 700 ${mnt.root}/creds ${mnt.root}/creds/.nebula-locks`,
        `mount -o remount,ro ${mnt.root}`,
        `${process.execPath} ${CHILD} try ${mnt.root}/missing/creds connect`,
        `${process.execPath} ${CHILD} try ${mnt.root}/creds store ${LONG_ID}`,
      ].join('\n');
      const r = spawnSync('unshare', ['-rm', 'sh', '-c', script], { encoding: 'utf8' });
      if (r.error || (r.status !== 0 && r.stdout === '')) {
        t.skip(`needs unshare -rm to mount a read-only tmpfs (${r.error?.message ?? r.stderr.trim()})`);
        return;
      }
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 2, r.stdout + r.stderr);
      for (const line of lines) {
        assert.match(line, /^error PermissionDenied .*read-only file system/);
        assert.doesNotMatch(line, /removed while in use/);
      }
    } finally {
      mnt.cleanup();
    }
  });

  it('the error that ends EMFILE retries says what to do, not that the operation is retried', (t) => {
    const { root, cleanup } = tempRoot('emfile');
    try {
      const r = spawnSync(
        'sh',
        ['-c', `ulimit -n 64 && exec ${process.execPath} ${CHILD} emfile ${root}/c`],
        {
          encoding: 'utf8',
        },
      );
      if (!/^error /m.test(r.stdout) && r.stdout.trim() !== 'ok') {
        t.skip(`could not run a process with 64 descriptors: ${r.stderr.trim()}`);
        return;
      }
      const line = r.stdout.trim();
      assert.match(line, /^error Unavailable /);
      assert.match(line, /EMFILE/);
      assert.match(line, /ulimit -n/);
      assert.doesNotMatch(line, /is retried/);
    } finally {
      cleanup();
    }
  });

  it('a NaN or infinite option is shown as such, not as null', () => {
    const messageOf = (options: LocalStorageOptions) => {
      try {
        new LocalStorageProvider(options);
      } catch (error) {
        assert.ok(error instanceof StorageError && error.code === 'InvalidConfig');
        return error.message;
      }
      assert.fail('expected InvalidConfig');
    };
    const nan = messageOf({ lockStaleMs: Number.NaN });
    assert.match(nan, /lockStaleMs: must be a whole number from 100 to 3600000 \(got NaN\)/);
    assert.doesNotMatch(nan, /null/);
    assert.match(messageOf({ maxCredentialSize: Number.POSITIVE_INFINITY }), /\(got Infinity\)/);
    assert.match(messageOf({ timeouts: { writeMs: Number.NaN } }), /timeouts\.writeMs: .*\(got NaN\)/);
    assert.match(messageOf({ lockStaleMs: 10n as never }), /\(got 10n\)/);
  });
});
