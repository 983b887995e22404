import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EncryptionManager } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import { CredentialStore, readKeyFile } from '../../src/core/store.js';
import { createStorageProvider, openCredentialStore } from '../../src/providers/factory.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';
import { PROVIDER_NAMES } from '../../src/providers/registry.js';

const isCode = (code: string) => (e: unknown) => e instanceof StorageError && e.code === code;

describe('createStorageProvider', () => {
  it('creates and connects the provider named in the config', async () => {
    const provider = await createStorageProvider({ provider: 'memory' });
    assert.equal(provider.name, 'memory');
    assert.deepEqual(await provider.list(), []);
    await provider.close();
  });

  it('names the providers it knows when given an unknown one', async () => {
    await assert.rejects(
      createStorageProvider({ provider: 'dropbox' } as never),
      (e: unknown) =>
        isCode('InvalidConfig')(e) && PROVIDER_NAMES.every((p) => (e as Error).message.includes(p)),
    );
    await assert.rejects(createStorageProvider(null as never), isCode('InvalidConfig'));
  });

  it('reports every invalid option at once', async () => {
    await assert.rejects(
      createStorageProvider({
        provider: 'memory',
        maxCredentialSize: -1,
        retry: { multiplier: 0 },
        colour: 'red',
      } as never),
      (e: unknown) => isCode('InvalidConfig')(e) && (e as StorageError).details.issues?.length === 3,
    );
  });

  it('fails connect with the backend error and closes the provider', async () => {
    const provider = new MemoryStorageProvider({ retry: { maxRetries: 0 } });
    provider.failNext({ code: 'AuthenticationFailed', operations: ['connect'] });
    await assert.rejects(provider.connect(), isCode('AuthenticationFailed'));
    await provider.connect();
    assert.equal(await provider.exists('x'), false);
  });

  it('recovers from transient faults through the retry policy, counting backend calls', async () => {
    const provider = new MemoryStorageProvider({ retry: { baseDelayMs: 1, maxDelayMs: 2 } });
    await provider.connect();
    provider.failNext({ code: 'Unavailable', times: 2, operations: ['exists'] });
    assert.equal(await provider.exists('x'), false);
    assert.equal(provider.calls.exists, 3);
    provider.failNext({ code: 'PermissionDenied', times: 5, operations: ['exists'] });
    await assert.rejects(provider.exists('x'), isCode('PermissionDenied'));
    assert.equal(provider.calls.exists, 4);
  });

  it('adds latency that the deadline bounds', async () => {
    const provider = new MemoryStorageProvider({ timeouts: { readMs: 20 } });
    await provider.connect();
    provider.setLatency(1000);
    await assert.rejects(provider.retrieve('x'), isCode('Timeout'));
  });
});

describe('openCredentialStore', () => {
  it('encrypts before storing and decrypts after retrieving', async () => {
    const memory = new MemoryStorageProvider();
    const store = await openCredentialStore({ storage: memory, encryption: { key: randomBytes(32) } });
    await store.put('api_key', 'v3ry-s3cret', {
      tags: { team: 'web' },
      rotationPolicy: { intervalDays: 30 },
    });
    const raw = await memory.retrieve('api_key');
    assert.ok(!Buffer.from(raw.data.ciphertext).toString().includes('v3ry-s3cret'));
    const { secret, metadata } = await store.get('api_key');
    assert.equal(secret.expose(), 'v3ry-s3cret');
    assert.deepEqual(metadata.tags, { team: 'web' });
    assert.deepEqual(metadata.rotationPolicy, { intervalDays: 30 });
    assert.deepEqual(await store.list({ tags: { team: 'web' } }), ['api_key']);
    assert.equal(await store.exists('api_key'), true);
    await store.delete('api_key');
    await assert.rejects(store.get('api_key'), isCode('NotFound'));
    await store.close();
  });

  it('keeps the creation time when a credential is overwritten', async () => {
    const store = await openCredentialStore({
      storage: { provider: 'memory' },
      encryption: { key: randomBytes(32) },
    });
    const first = await store.put('k', 'one');
    await new Promise((r) => setTimeout(r, 5));
    const second = await store.put('k', 'two');
    assert.equal(second.createdAt.getTime(), first.createdAt.getTime());
    assert.ok(second.lastModified.getTime() > first.lastModified.getTime());
    assert.equal((await store.get('k')).secret.expose(), 'two');
  });

  it('binds the id: a ciphertext copied to another id does not decrypt', async () => {
    const memory = new MemoryStorageProvider();
    const store = new CredentialStore(memory, EncryptionManager.generate());
    await store.put('a', 'secret-a');
    const stolen = await memory.retrieve('a');
    await memory.store('b', stolen.data, stolen.metadata);
    await assert.rejects(
      store.get('b'),
      (e: unknown) => isCode('DecryptionFailed')(e) && (e as StorageError).credentialId === 'b',
    );
  });

  it('opens with a passphrase and salt; a wrong passphrase is DecryptionFailed, not garbage', async () => {
    const memory = new MemoryStorageProvider();
    const salt = randomBytes(16).toString('base64');
    const right = await openCredentialStore({
      storage: memory,
      encryption: { passphrase: 'open sesame', salt },
    });
    await right.put('k', 'v');
    const wrong = await openCredentialStore({
      storage: memory,
      encryption: { passphrase: 'open sesam', salt },
    });
    await assert.rejects(
      wrong.get('k'),
      (e: unknown) => isCode('DecryptionFailed')(e) && /wrong key or passphrase/.test((e as Error).message),
    );
  });

  it('reads key files in raw, hex and base64 form and refuses loose permissions', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nebula-key-'));
    const key = randomBytes(32);
    for (const [name, content] of [
      ['raw', key],
      ['hex', `${key.toString('hex')}\n`],
      ['b64', `${key.toString('base64')}\n`],
    ] as const) {
      const path = join(dir, name);
      await writeFile(path, content, { mode: 0o600 });
      assert.ok((await readKeyFile(path)).equals(key), name);
    }
    const loose = join(dir, 'loose');
    await writeFile(loose, key, { mode: 0o600 });
    await chmod(loose, 0o644);
    await assert.rejects(
      readKeyFile(loose),
      (e: unknown) => isCode('InvalidConfig')(e) && /chmod 600/.test((e as Error).message),
    );
    const short = join(dir, 'short');
    await writeFile(short, 'abc', { mode: 0o600 });
    await assert.rejects(readKeyFile(short), isCode('InvalidConfig'));
    await assert.rejects(
      readKeyFile(join(dir, 'missing')),
      (e: unknown) => isCode('InvalidConfig')(e) && /nebula-credential init/.test((e as Error).message),
    );
    const store = await openCredentialStore({
      storage: { provider: 'memory' },
      encryption: { keyFile: join(dir, 'hex') },
    });
    await store.put('x', 'y');
    assert.equal((await store.get('x')).secret.expose(), 'y');
  });
});
