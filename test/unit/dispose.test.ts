import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EncryptionManager } from '../../src/core/crypto.js';
import { asyncDisposeSymbol, disposeSymbol } from '../../src/core/dispose.js';
import { isStorageError } from '../../src/core/errors.js';
import { SecretString } from '../../src/core/secret-string.js';
import { createStorageProvider, openCredentialStore } from '../../src/providers/factory.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';

const closed = (e: unknown) => isStorageError(e, 'Unsupported') && /was closed/.test((e as Error).message);

describe('await using: stores and providers release themselves', () => {
  it('the keys are the runtime well-known symbols', () => {
    assert.equal(asyncDisposeSymbol, Symbol.asyncDispose);
    assert.equal(disposeSymbol, Symbol.dispose);
    assert.equal(typeof MemoryStorageProvider.prototype[Symbol.asyncDispose], 'function');
  });

  it('await using a CredentialStore closes its provider and wipes only the key it created', async () => {
    const provider = new MemoryStorageProvider();
    let escaped: { get(id: string): Promise<unknown> } | undefined;
    {
      await using store = await openCredentialStore({
        storage: provider,
        encryption: { key: randomBytes(32) },
      });
      escaped = store;
      await store.put('api_key', 'value');
      assert.equal((await store.get('api_key')).secret.expose(), 'value');
    }
    await assert.rejects(provider.list(), closed);
    await assert.rejects(escaped.get('api_key'), (e: unknown) => isStorageError(e));

    // A manager the caller passed in stays the caller's: the block must not wipe it.
    const manager = EncryptionManager.fromKey(randomBytes(32));
    {
      await using store = await openCredentialStore({
        storage: new MemoryStorageProvider(),
        encryption: { manager },
      });
      await store.put('api_key', 'value');
    }
    assert.equal(manager.disposed, false);
    assert.equal(manager.decrypt(manager.encrypt(Buffer.from('after'))).toString(), 'after');
  });

  it('the block closes the store even when it throws', async () => {
    const provider = new MemoryStorageProvider();
    await assert.rejects(async () => {
      await using store = await openCredentialStore({
        storage: provider,
        encryption: { key: randomBytes(32) },
      });
      await store.put('x', 'y');
      throw new Error('application failure');
    }, /application failure/);
    await assert.rejects(provider.exists('x'), closed);
  });

  it('await using a provider from createStorageProvider, or a memory provider, closes it', async () => {
    let escaped: MemoryStorageProvider | undefined;
    {
      await using memory = new MemoryStorageProvider();
      escaped = memory;
      assert.deepEqual(await memory.list(), []);
    }
    await assert.rejects(escaped.list(), closed);

    const dir = await mkdtemp(join(tmpdir(), 'nebula-dispose-'));
    try {
      let local: { list(): Promise<string[]> } | undefined;
      {
        await using provider = await createStorageProvider({ provider: 'local', directory: dir });
        local = provider;
        assert.deepEqual(await provider.list(), []);
      }
      await assert.rejects(local.list(), closed);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('using a SecretString wipes it at the end of the block', () => {
    let escaped: SecretString | undefined;
    {
      using secret = new SecretString('s3cret');
      escaped = secret;
      assert.equal(secret.expose(), 's3cret');
    }
    assert.equal(escaped.disposed, true);
  });
});
