import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EncryptionManager } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import { createMetadata } from '../../src/core/metadata.js';
import { LocalStorageProvider } from '../../src/providers/local.js';
import { tempRoot } from '../unit/local-helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/local-child.js', import.meta.url));
const run = promisify(execFile);

describe('LocalStorageProvider contention and persistence', () => {
  it('keeps data across a restart (SC-008): one process stores and exits, a new process reads it back', async () => {
    const { root, cleanup } = tempRoot('persist');
    try {
      const dir = join(root, 'credentials');
      const keyHex = randomBytes(32).toString('hex');
      await run(process.execPath, [CHILD, 'store', dir, keyHex, 'github_token', 'ghp_persisted']);
      await run(process.execPath, [CHILD, 'store', dir, keyHex, 'Пароль', 'unicode value']);
      const a = await run(process.execPath, [CHILD, 'read', dir, keyHex, 'github_token']);
      const b = await run(process.execPath, [CHILD, 'read', dir, keyHex, 'Пароль']);
      assert.equal(a.stdout, 'ghp_persisted\n');
      assert.equal(b.stdout, 'unicode value\n');
      const p = new LocalStorageProvider({ directory: dir });
      assert.deepEqual(await p.list(), ['github_token', 'Пароль']);
      await p.close();
    } finally {
      cleanup();
    }
  });

  it('lets several processes write the same id and distinct ids at once without corruption', async () => {
    const { root, cleanup } = tempRoot('procs');
    try {
      const dir = join(root, 'credentials');
      const key = randomBytes(32);
      const writers = 4;
      const rounds = 40;
      const outputs = await Promise.all(
        Array.from({ length: writers }, (_, w) =>
          run(process.execPath, [CHILD, 'contend', dir, `w${w}`, key.toString('hex'), String(rounds)]),
        ),
      );
      for (const { stdout } of outputs)
        assert.equal(stdout, 'done\n', 'a reader saw a torn or foreign value');
      const manager = EncryptionManager.fromKey(key);
      const p = new LocalStorageProvider({ directory: dir });
      const hot = manager.decrypt((await p.retrieve('hot')).data).toString();
      assert.match(hot, new RegExp(`^w[0-${writers - 1}]:${rounds - 1}$`), 'the last writer did not win');
      for (let w = 0; w < writers; w++) {
        for (let k = 0; k < 5; k++) {
          const last = rounds - 1 - ((rounds - 1 - k) % 5);
          const value = manager.decrypt((await p.retrieve(`own_w${w}_${k}`)).data).toString();
          assert.equal(value, `w${w}:${last}`);
        }
      }
      assert.equal((await p.list()).length, 1 + writers * 5);
      assert.deepEqual(
        readdirSync(dir).filter((n) => n.startsWith('.nebula-tmp-')),
        [],
      );
      assert.deepEqual(
        readdirSync(join(dir, '.nebula-locks')).filter(
          (l) => readdirSync(join(dir, '.nebula-locks', l)).join() !== 'free',
        ),
        [],
      );
      await p.close();
    } finally {
      cleanup();
    }
  });

  it('connect() never fails while other processes store and delete long ids (removal is harmless at every step)', async () => {
    const { root, cleanup } = tempRoot('churn');
    try {
      const dir = join(root, 'credentials');
      const stop = join(root, 'stop');
      // Four 200-character ids, each in its own piece directory, which every delete removes and every store
      // re-creates: the opener's leftover sweep keeps walking into directories that vanish under it.
      const ids = ['a', 'b', 'c', 'd'].map((c) => c.repeat(200)).join(',');
      const p = new LocalStorageProvider({ directory: dir });
      await p.connect();
      await p.close();
      const churn = (action: string) => run(process.execPath, [CHILD, 'churn', dir, action, stop, ids]);
      const writer = churn('store');
      const deleter = churn('delete');
      let opened: { stdout: string };
      try {
        // Under load the churners can start late: the opener begins only once both have done some work.
        for (let i = 0; i < 600 && !['store', 'delete'].every((a) => existsSync(`${stop}.${a}.ready`)); i++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        opened = await run(process.execPath, [CHILD, 'open', dir, '400']);
      } finally {
        writeFileSync(stop, '');
      }
      const [stored, deleted] = await Promise.all([writer, deleter]);
      const failures = (out: string) => out.split('\n').filter((l) => l.startsWith('fail '));
      assert.deepEqual(failures(opened.stdout), [], 'connect() failed while ids were deleted under it');
      assert.deepEqual(failures(stored.stdout), [], 'a store failed');
      assert.deepEqual(failures(deleted.stdout), [], 'a delete failed');
      const count = (out: string) => Number(/done (\d+)/.exec(out)?.[1]);
      console.log(
        `# 400 connects beside ${count(stored.stdout)} stores and ${count(deleted.stdout)} deletes`,
      );
      assert.ok(count(stored.stdout) > 0 && count(deleted.stdout) > 0);
    } finally {
      cleanup();
    }
  });

  it('runs 1,000 concurrent operations in one process (two providers, one directory) consistently', async () => {
    const { root, cleanup } = tempRoot('thousand');
    try {
      const dir = join(root, 'credentials');
      const providers = [
        new LocalStorageProvider({ directory: dir }),
        new LocalStorageProvider({ directory: dir }),
      ];
      const ids = Array.from({ length: 25 }, (_, i) => (i % 5 === 0 ? `Hot_${i}` : `id_${i}`));
      const written = new Map<string, Set<string>>(ids.map((id) => [id, new Set()]));
      const deleted = new Set<string>();
      const unexpected: unknown[] = [];
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 1000; i++) {
        const p = providers[i % 2]!;
        const id = ids[(i * 7) % ids.length]!;
        const kind = i % 20;
        const guard = (promise: Promise<unknown>) =>
          promise.catch((error) => {
            if (!(error instanceof StorageError && error.code === 'NotFound')) unexpected.push(error);
          });
        if (kind < 8) {
          const value = `${id}#${i}`;
          written.get(id)!.add(value);
          ops.push(guard(p.store(id, fakeValue(value), createMetadata({ tags: { i: String(i) } }))));
        } else if (kind < 14) {
          ops.push(
            guard(
              p.retrieve(id).then((c) => {
                const value = Buffer.from(c.data.ciphertext).toString();
                if (!written.get(id)!.has(value)) unexpected.push(new Error(`${id} returned ${value}`));
              }),
            ),
          );
        } else if (kind < 17) ops.push(guard(p.exists(id)));
        else if (kind < 19) {
          deleted.add(id);
          ops.push(guard(p.delete(id)));
        } else ops.push(guard(p.list()));
      }
      await Promise.all(ops);
      assert.deepEqual(unexpected, []);
      for (const id of ids) {
        try {
          const value = Buffer.from((await providers[0]!.retrieve(id)).data.ciphertext).toString();
          assert.ok(written.get(id)!.has(value), `${id} holds ${value}`);
        } catch (error) {
          assert.ok(error instanceof StorageError && error.code === 'NotFound');
          assert.ok(deleted.has(id) || written.get(id)!.size === 0, `${id} vanished without a delete`);
        }
      }
      assert.deepEqual(
        readdirSync(join(dir, '.nebula-locks')).filter(
          (l) => readdirSync(join(dir, '.nebula-locks', l)).join() !== 'free',
        ),
        [],
      );
      await Promise.all(providers.map((p) => p.close()));
    } finally {
      cleanup();
    }
  });
});

function fakeValue(text: string) {
  return {
    version: 1,
    keyId: 'k000000000000000',
    nonce: randomBytes(12),
    ciphertext: Buffer.from(text),
    tag: randomBytes(16),
  };
}
