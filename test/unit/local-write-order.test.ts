import assert from 'node:assert/strict';
import { constants, promises as fsp, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { createMetadata } from '../../src/core/metadata.js';
import { LocalStorageProvider } from '../../src/providers/local.js';
import { credentialPathParts, LOCKS_DIR } from '../../src/providers/local-layout.js';
import { fakeData, tempRoot } from './local-helpers.js';

// A store overlaps its steps to save thread-pool round trips; these tests pin down the orderings that crash
// safety rests on, whatever runs beside them: the temp file is durable before the rename, the directory fsync
// after the rename completes before the store resolves, and nothing is left open or held once it has.

interface Event {
  what: 'open' | 'write' | 'sync' | 'close' | 'rename';
  path: string;
  flags?: number | undefined;
  to?: string;
  /** Index in the log at which the call completed. */
  done?: number;
}

async function recordStore(
  id: string,
  fn: (p: LocalStorageProvider) => Promise<unknown>,
): Promise<{ log: Event[]; dir: string; lockDir: string; endedAt: number }> {
  const { root, cleanup } = tempRoot('write-order');
  const dir = join(root, 'credentials');
  const provider = new LocalStorageProvider({ directory: dir });
  const log: Event[] = [];
  let seq = 0;
  const paths = new Map<number, string>();
  const flagsOf = new Map<number, number>();
  const realOpen = fsp.open;
  const realRename = fsp.rename;
  const probe = await realOpen(join(root, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as Record<string, (...args: unknown[]) => Promise<unknown>>;
  await probe.close();
  const real = { write: proto['write']!, sync: proto['sync']! };
  const track = <T>(event: Event, promise: Promise<T>): Promise<T> => {
    log.push(event);
    return promise.then((value) => {
      event.done = seq++;
      return value;
    });
  };
  try {
    await provider.connect();
    await provider.store(id, fakeData('v1'), createMetadata());
    fsp.open = (async (path: string, flags?: number | string, mode?: number) => {
      const handle = await track({ what: 'open', path, flags: Number(flags) }, realOpen(path, flags, mode));
      paths.set(handle.fd, path);
      flagsOf.set(handle.fd, Number(flags));
      // close is an own property of each handle, not a prototype method.
      const close = handle.close;
      handle.close = () => track({ what: 'close', path, flags: Number(flags) }, close.call(handle));
      return handle;
    }) as typeof fsp.open;
    fsp.rename = ((from: string, to: string) =>
      track({ what: 'rename', path: from, to }, realRename(from, to))) as typeof fsp.rename;
    for (const what of ['write', 'sync'] as const) {
      proto[what] = function (this: { fd: number }, ...args: unknown[]) {
        const path = paths.get(this.fd) ?? '?';
        return track({ what, path, flags: flagsOf.get(this.fd) }, real[what].apply(this, args));
      };
    }
    await fn(provider);
    const endedAt = seq++;
    const parts = credentialPathParts(id);
    return {
      log,
      dir: dirname(join(dir, ...parts)),
      lockDir: join(dir, LOCKS_DIR),
      endedAt,
    };
  } finally {
    fsp.open = realOpen;
    fsp.rename = realRename;
    Object.assign(proto, real);
    await provider.close();
    setImmediate(cleanup);
  }
}

function checkOrder(id: string, result: Awaited<ReturnType<typeof recordStore>>): void {
  const { log, dir, lockDir, endedAt } = result;
  const target = join(dir, credentialPathParts(id).at(-1)!);
  const commit = log.find((e) => e.what === 'rename' && e.to === target);
  assert.ok(commit?.done !== undefined, 'the temp file was renamed over the credential');
  const temp = commit.path;
  const tempOpen = log.find((e) => e.what === 'open' && e.path === temp)!;
  assert.ok(tempOpen.flags! & constants.O_EXCL && tempOpen.flags! & constants.O_CREAT, 'O_CREAT|O_EXCL');
  const tempWrites = log.filter((e) => e.what === 'write' && e.path === temp);
  assert.ok(tempWrites.length > 0 && tempWrites.every((e) => e.done! < commit.done!), 'written before');
  const synchronous = process.platform === 'linux' && (tempOpen.flags! & constants.O_SYNC) !== 0;
  const tempSync = log.find((e) => e.what === 'sync' && e.path === temp);
  // An O_SYNC write returns once the data and metadata are durable, as fsync(2) does; else the fsync must
  // have completed before the rename was even issued.
  if (!synchronous) {
    assert.ok(tempSync?.done !== undefined, 'the temp file was fsynced');
    assert.ok(log.indexOf(commit) > log.indexOf(tempSync) && tempSync.done < commit.done!);
  }
  if (process.platform !== 'win32') {
    const dirSync = log.find(
      (e) => e.what === 'sync' && e.path === dir && e.flags! & (constants.O_DIRECTORY ?? 0),
    );
    assert.ok(dirSync, 'the directory was fsynced');
    assert.ok(log.indexOf(dirSync) > log.indexOf(commit), 'the directory fsync was issued after the rename');
    assert.ok(dirSync.done! < endedAt, 'the directory fsync completed before the store resolved');
  }
  const opened = log.filter((e) => e.what === 'open');
  const closed = log.filter((e) => e.what === 'close');
  assert.equal(closed.length, opened.length, 'every descriptor opened by the store is closed');
  assert.ok(
    closed.every((e) => e.done! < endedAt),
    'and closed before it resolved',
  );
  const locks = readdirSync(lockDir);
  assert.ok(locks.length > 0);
  for (const name of locks) assert.deepEqual(readdirSync(join(lockDir, name)), ['free'], 'the lock is free');
}

describe('LocalStorageProvider: the order of a store’s steps', () => {
  it('an overwrite: temp durable before the rename, directory fsync after it and before resolving', async () => {
    const id = 'order_short';
    checkOrder(id, await recordStore(id, (p) => p.store(id, fakeData('v2'), createMetadata())));
  });

  it('the same for a long id, whose piece directory is synced by path after the rename', async () => {
    const id = 'Q'.repeat(200);
    checkOrder(id, await recordStore(id, (p) => p.store(id, fakeData('v2'), createMetadata())));
  });

  it('keeps createdAt of the document it replaces', async () => {
    const id = 'order_created';
    let created: Date | undefined;
    let kept: Date | undefined;
    await recordStore(id, async (p) => {
      created = (await p.retrieve(id)).metadata.createdAt;
      const later = new Date(created.getTime() + 60_000);
      await p.store(id, fakeData('v2'), { ...createMetadata(), createdAt: later, lastModified: later });
      kept = (await p.retrieve(id)).metadata.createdAt;
    });
    assert.ok(created instanceof Date && kept instanceof Date);
    assert.equal(kept.getTime(), created.getTime());
  });
});
