import assert from 'node:assert/strict';
import { constants, promises as fsp, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StorageError } from '../../src/core/errors.js';
import { createMetadata } from '../../src/core/metadata.js';
import { type LocalStorageOptions, LocalStorageProvider } from '../../src/providers/local.js';
import { credentialPathParts } from '../../src/providers/local-layout.js';
import { fakeData, tempRoot } from './local-helpers.js';

async function failure(promise: Promise<unknown>): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof StorageError, String(error));
    return error;
  }
  assert.fail('expected a StorageError');
}

async function withProvider(
  label: string,
  fn: (p: LocalStorageProvider, dir: string, root: string) => Promise<void>,
  options: Partial<LocalStorageOptions> = {},
): Promise<void> {
  const { root, cleanup } = tempRoot(label);
  const dir = join(root, 'credentials');
  const provider = new LocalStorageProvider({ directory: dir, ...options });
  try {
    await provider.connect();
    await fn(provider, dir, root);
  } finally {
    await provider.close();
    cleanup();
  }
}

const LONG_ID = 'q'.repeat(200);

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

void failure;
