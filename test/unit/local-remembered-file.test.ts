import assert from 'node:assert/strict';
import { chmodSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createMetadata } from '../../src/core/metadata.js';
import { LocalStorageProvider } from '../../src/providers/local.js';
import { identityIsPrecise } from '../../src/providers/local-fs.js';
import { credentialPathParts } from '../../src/providers/local-layout.js';
import { fakeData, tempRoot } from './local-helpers.js';

// A store over a file this provider just read or wrote skips reading it (the overwrite rule's metadata is
// remembered with the file's identity, inode and change time, confirmed under the lock); any other file
// under the name, another process's write included, is read as before.

/** Opens of `file` for reading while `fn` runs. */
async function readsOf(file: string, fn: () => Promise<unknown>): Promise<number> {
  const realOpen = fsp.open;
  let reads = 0;
  fsp.open = ((path: string, flags?: number | string, mode?: number) => {
    if (path === file && typeof flags === 'number' && (flags & 3) === 0) reads++;
    return realOpen(path, flags, mode);
  }) as typeof fsp.open;
  try {
    await fn();
  } finally {
    fsp.open = realOpen;
  }
  return reads;
}

describe('LocalStorageProvider: a store over the file it knows', () => {
  it('reads nothing when the file is the one it last wrote or read, and keeps the overwrite rule', async () => {
    const { root, cleanup } = tempRoot('remembered');
    const directory = join(root, 'credentials');
    const p = new LocalStorageProvider({ directory });
    try {
      await p.connect();
      const first = createMetadata({ tags: { team: 'a' }, now: new Date('2026-01-01T00:00:00.000Z') });
      await p.store('known_id', fakeData('v1'), first);
      const file = join(directory, ...credentialPathParts('known_id'));
      const keep = { keepTags: true, keepRotationPolicy: true };
      const reads = await readsOf(file, () =>
        p.store('known_id', fakeData('v2'), createMetadata(), undefined, keep),
      );
      assert.equal(reads, 0, 'the overwrite read the file it had just written');
      const back = await p.retrieve('known_id');
      assert.equal(Buffer.from(back.data.ciphertext).toString(), 'v2');
      assert.equal(back.metadata.createdAt.toISOString(), first.createdAt.toISOString());
      assert.deepEqual(back.metadata.tags, { team: 'a' });
      // After a read, too.
      assert.equal(
        await readsOf(file, () => p.store('known_id', fakeData('v3'), createMetadata(), undefined, keep)),
        0,
      );
    } finally {
      await p.close();
      cleanup();
    }
  });

  it("reads the file again when another process wrote it, and keeps that process's metadata", async () => {
    const { root, cleanup } = tempRoot('remembered-other');
    const directory = join(root, 'credentials');
    const p = new LocalStorageProvider({ directory });
    const other = new LocalStorageProvider({ directory });
    try {
      await p.connect();
      await other.connect();
      await p.store('shared_id', fakeData('v1'), createMetadata({ tags: { team: 'a' } }));
      const theirs = createMetadata({ tags: { team: 'b' }, now: new Date('2025-06-01T00:00:00.000Z') });
      await other.store('shared_id', fakeData('theirs'), theirs, undefined, { exactMetadata: true });
      const file = join(directory, ...credentialPathParts('shared_id'));
      const keep = { keepTags: true, keepRotationPolicy: true };
      const written = await p.store('shared_id', fakeData('v2'), createMetadata(), undefined, keep);
      assert.deepEqual(written.tags, { team: 'b' }, 'the tags of the file on disk, not the remembered ones');
      assert.equal(written.createdAt.toISOString(), theirs.createdAt.toISOString());
      // A mode change (a chmod by someone) changes the change time: read again, still correct.
      chmodSync(file, 0o600);
      assert.equal(
        (await readsOf(file, () => p.store('shared_id', fakeData('v3'), createMetadata(), undefined, keep))) >
          0,
        true,
      );
      const back = await p.retrieve('shared_id');
      assert.deepEqual(back.metadata.tags, { team: 'b' });
      assert.equal(back.metadata.createdAt.toISOString(), theirs.createdAt.toISOString());
    } finally {
      await p.close();
      await other.close();
      cleanup();
    }
  });

  it('trusts a file identity only where the change time is finer than a second', () => {
    // ext4, xfs, btrfs, tmpfs and APFS keep nanoseconds; FAT and some network mounts keep whole seconds, where
    // two files on one reused inode within a second would look the same.
    assert.equal(identityIsPrecise({ ctimeMs: 1796284802705.123 }), true);
    assert.equal(identityIsPrecise({ ctimeMs: 1796284802001 }), true);
    assert.equal(identityIsPrecise({ ctimeMs: 1796284802000 }), false);
  });
});
