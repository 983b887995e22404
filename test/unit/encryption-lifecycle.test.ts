import assert from 'node:assert/strict';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { EncryptionManager } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import { CredentialStore, credentialAssociatedData } from '../../src/core/store.js';
import { openCredentialStore } from '../../src/providers/factory.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';

const isCode = (code: string) => (e: unknown) => e instanceof StorageError && e.code === code;

/** True when `data` authenticates under a key of 32 zero bytes (what a wiped manager would encrypt with). */
function decryptsUnderZeroKey(
  data: { keyId: string; nonce: Uint8Array; ciphertext: Uint8Array; tag: Uint8Array },
  id: string,
) {
  try {
    const decipher = createDecipheriv('aes-256-gcm', Buffer.alloc(32), data.nonce, { authTagLength: 16 });
    decipher.setAAD(
      Buffer.concat([Buffer.from(`nebula-credential/v1/${data.keyId}/`), credentialAssociatedData(id)]),
    );
    decipher.setAuthTag(data.tag);
    decipher.update(data.ciphertext);
    decipher.final();
    return true;
  } catch {
    return false;
  }
}

describe('a disposed EncryptionManager', () => {
  it('refuses to encrypt and decrypt with a typed error instead of using a wiped key', () => {
    const manager = EncryptionManager.generate();
    const data = manager.encrypt(Buffer.from('before'));
    manager.dispose();
    assert.equal(manager.disposed, true);
    assert.throws(() => manager.encrypt(Buffer.from('after')), isCode('Unsupported'));
    assert.throws(() => manager.decrypt(data), isCode('Unsupported'));
    manager.dispose(); // idempotent
  });
});

describe('CredentialStore and the manager it was given', () => {
  it('closing one of two stores sharing a manager leaves the other working with the real key', async () => {
    const manager = EncryptionManager.generate();
    const memory = new MemoryStorageProvider();
    const first = await openCredentialStore({
      storage: new MemoryStorageProvider(),
      encryption: { manager },
    });
    const second = await openCredentialStore({ storage: memory, encryption: { manager } });
    await first.put('a', 'one');
    await first.close();

    await second.put('shared_id', 'two');
    const stored = await memory.retrieve('shared_id');
    assert.equal(decryptsUnderZeroKey(stored.data, 'shared_id'), false, 'encrypted under a zeroed key');
    const { secret } = await second.get('shared_id');
    assert.equal(secret.expose(), 'two');
    secret.dispose();
    assert.equal(manager.disposed, false, 'a store must not dispose a manager it did not create');
    await second.close();
    assert.equal(manager.disposed, false);
    manager.dispose();
  });

  it('put and get fail typed, before any I/O, once the shared manager is disposed', async () => {
    const manager = EncryptionManager.generate();
    const memory = new MemoryStorageProvider();
    const store = await openCredentialStore({ storage: memory, encryption: { manager } });
    await store.put('kept', 'value');
    manager.dispose();
    const callsBefore = { ...memory.calls };
    await assert.rejects(store.put('kept', 'new value'), isCode('Unsupported'));
    await assert.rejects(store.get('kept'), isCode('Unsupported'));
    await assert.rejects(store.get('missing'), isCode('Unsupported'));
    assert.deepEqual(memory.calls, callsBefore, 'no backend call with a disposed key');
    const stored = await memory.retrieve('kept');
    assert.equal(decryptsUnderZeroKey(stored.data, 'kept'), false);
    await store.close();
  });

  it('disposes the manager it created from a key on close', async () => {
    const store = await openCredentialStore({
      storage: new MemoryStorageProvider(),
      encryption: { key: randomBytes(32) },
    });
    await store.put('x', 'v');
    await store.close();
    await assert.rejects(store.put('x', 'v'), (e: unknown) => e instanceof StorageError);
  });

  it('a store built with the constructor leaves the manager to its owner unless told otherwise', async () => {
    const manager = EncryptionManager.generate();
    await new CredentialStore(new MemoryStorageProvider(), manager).close();
    assert.equal(manager.disposed, false);
    await new CredentialStore(new MemoryStorageProvider(), manager, {
      disposeEncryptionOnClose: true,
    }).close();
    assert.equal(manager.disposed, true);
  });

  it('refuses a manager that is already disposed when opening', async () => {
    const manager = EncryptionManager.generate();
    manager.dispose();
    await assert.rejects(
      openCredentialStore({ storage: new MemoryStorageProvider(), encryption: { manager } }),
      isCode('InvalidConfig'),
    );
  });
});
