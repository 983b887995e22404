import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EncryptionManager } from '../../src/core/crypto.js';
import { createMetadata } from '../../src/core/metadata.js';
import { LocalStorageProvider } from '../../src/providers/local.js';
import { idFromPathParts } from '../../src/providers/local-layout.js';
import { tempRoot } from '../unit/local-helpers.js';
import { crashWrite } from './fixtures/local-child.js';

const CHILD = fileURLToPath(new URL('./fixtures/local-child.js', import.meta.url));
const KILLS = 210;
const PARALLEL = 4;
const SHARED = ['shared_a', 'shared_b', 'Shared_Ж'];

interface Run {
  tag: string;
  acks: { id: string; value: string; seq: number }[];
  killedAfterReady: boolean;
  stderr: string;
}

/** Starts a writer, SIGKILLs it a random 0-30 ms after its first acknowledged write, and resolves with what it acknowledged. */
function crashOne(dir: string, tag: string, keyHex: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      [CHILD, 'crash', dir, tag, keyHex, SHARED.join(',')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const run: Run = { tag, acks: [], killedAfterReady: false, stderr: '' };
    let buffered = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('ack ')) {
          const [, id, value] = line.split(' ') as [string, string, string];
          run.acks.push({ id, value, seq: Number(value.split(':')[1]) });
          // Start counting at the first acknowledged write, so the kill lands inside the write loop (and
          // not in process start-up, whose length depends on the machine's load).
          if (run.acks.length === 1) {
            setTimeout(() => {
              run.killedAfterReady = true;
              child.kill('SIGKILL');
            }, Math.random() * 30);
          }
        }
        nl = buffered.indexOf('\n');
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      run.stderr += c;
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (signal === 'SIGKILL' && run.killedAfterReady) resolve(run);
      else reject(new Error(`writer ${tag} exited on its own (${signal ?? _code}): ${run.stderr}`));
    });
  });
}

function walk(dir: string, prefix: string[] = []): { parts: string[]; path: string }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return walk(path, [...prefix, e.name]);
    return [{ parts: [...prefix, e.name], path }];
  });
}

describe('LocalStorageProvider crash safety (SC-009)', () => {
  it(`loses no acknowledged write and leaves no torn file across ${KILLS} SIGKILLs of concurrent writers`, async () => {
    const { root, cleanup } = tempRoot('crash');
    try {
      const dir = join(root, 'credentials');
      const key = randomBytes(32);
      const keyHex = key.toString('hex');
      const runs: Run[] = [];
      let next = 0;
      const lane = async () => {
        while (next < KILLS) {
          const tag = `c${next++}`;
          runs.push(await crashOne(dir, tag, keyHex));
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, lane));
      assert.equal(runs.length, KILLS);
      assert.ok(runs.every((r) => r.killedAfterReady));

      // The next connect() removes every temp file a dead writer left.
      const provider = new LocalStorageProvider({ directory: dir });
      await provider.connect();
      const leftovers = walk(dir).filter((f) =>
        f.parts.some((p) => p.startsWith('.nebula-tmp-') || p.startsWith('.nebula-del-')),
      );
      assert.deepEqual(leftovers, [], 'a temp file survived connect()');

      const manager = EncryptionManager.fromKey(key);
      const attempted = new Map<string, Set<string>>(); // id -> every value that may have reached the disk
      for (const run of runs) {
        const lastSeq = run.acks.at(-1)?.seq ?? 0;
        for (let seq = 1; seq <= lastSeq + 1; seq++) {
          const w = crashWrite(run.tag, seq, SHARED);
          if (!attempted.has(w.id)) attempted.set(w.id, new Set());
          attempted.get(w.id)!.add(w.value);
        }
      }
      // Every credential file decrypts to one of the values written to that id.
      const ids = await provider.list();
      for (const id of ids) {
        const value = manager.decrypt((await provider.retrieve(id)).data).toString();
        assert.ok(attempted.get(id)?.has(value), `${id} holds ${value}, which nobody wrote there`);
      }
      assert.equal(
        walk(dir).filter((f) => !f.parts.some((p) => p.startsWith('.')) && idFromPathParts(f.parts)).length,
        ids.length,
      );
      // Every acknowledged write is present: each writer's own id holds its last acknowledged value or the one
      // write in flight when it was killed (the only later write to that id).
      let acknowledged = 0;
      for (const run of runs) {
        const own = run.acks.filter((a) => a.id === `own_${run.tag}`);
        acknowledged += run.acks.length;
        const lastOwn = own.at(-1);
        const inFlight = crashWrite(run.tag, (run.acks.at(-1)?.seq ?? 0) + 1, SHARED);
        const allowed = new Set([
          lastOwn?.value,
          inFlight.id === `own_${run.tag}` ? inFlight.value : undefined,
        ]);
        const id = `own_${run.tag}`;
        if (await provider.exists(id)) {
          const value = manager.decrypt((await provider.retrieve(id)).data).toString();
          assert.ok(
            allowed.has(value),
            `${id}: expected ${lastOwn?.value} (or the in-flight write), found ${value}`,
          );
        } else {
          assert.equal(lastOwn, undefined, `${id}: acknowledged ${lastOwn?.value} is lost`);
        }
      }
      // Shared ids were acknowledged by many writers; each holds one of the values written to it.
      for (const id of SHARED) {
        if (runs.some((r) => r.acks.some((a) => a.id === id)))
          assert.ok(await provider.exists(id), `${id} is lost`);
      }
      const midWrite = runs.filter((r) => r.acks.length > 0).length;
      console.log(
        `# ${KILLS} SIGKILLs, ${acknowledged} acknowledged writes, ${midWrite} writers killed after at least one ack, ${ids.length} credential files verified`,
      );
      assert.ok(acknowledged > KILLS, 'the writers were killed before they wrote anything');
      // No lock stays stuck: locks of killed holders are taken over at once by the next writer, well within
      // a short deadline, and every lock is free afterwards.
      const quick = new LocalStorageProvider({
        directory: dir,
        timeouts: { writeMs: 2_000 },
        retry: { maxRetries: 0 },
      });
      // Every id a writer may have been writing when it was killed, not only those whose file landed: a
      // writer killed inside its lock before the rename leaves a lock on an id with no file yet.
      for (const id of new Set([...ids, ...attempted.keys()]))
        await quick.store(id, manager.encrypt(Buffer.from('after')), createMetadata());
      assert.deepEqual(
        walk(join(dir, '.nebula-locks')).filter((f) => f.parts.at(-1) !== 'free'),
        [],
        'a lock is still held after every id was written again',
      );
      await quick.close();
      await provider.close();
    } finally {
      cleanup();
    }
  });
});
