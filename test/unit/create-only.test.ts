import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EncryptionManager } from '../../src/core/crypto.js';
import { createMetadata } from '../../src/core/metadata.js';
import { CredentialStore } from '../../src/core/store.js';
import { HashiCorpVaultProvider } from '../../src/providers/hashicorp-vault.js';
import { KubernetesSecretsProvider } from '../../src/providers/kubernetes-secrets.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';
import { rejectsWithCode as rejectsCode } from '../../src/testing/assertions.js';
import { KubernetesEmulator } from '../../src/testing/emulators/kubernetes.js';
import { VaultEmulator } from '../../src/testing/emulators/vault.js';

describe('create (a write only of a new credential)', () => {
  const kube = new KubernetesEmulator();
  const vault = new VaultEmulator();
  before(async () => {
    await kube.start();
    await vault.start();
  });
  after(async () => {
    await kube.stop();
    await vault.stop();
  });

  it('a create whose answer was lost and whose retry meets its own Secret succeeds (Kubernetes)', async () => {
    const token = kube.createServiceAccount('create-ns', 'app');
    kube.grant('create-ns', 'app');
    const provider = new KubernetesSecretsProvider({
      kubeconfigPath: kube.writeKubeconfig({ token, namespace: 'create-ns' }),
    });
    await provider.connect();
    const store = new CredentialStore(provider, EncryptionManager.generate());
    try {
      kube.faults.add({ action: { kind: 'lose-answer' }, match: (r) => r.method === 'POST' });
      const posts = () => kube.requests.filter((r) => r.method === 'POST').length;
      const before = posts();
      const written = await store.create('lost_answer', 'first', { tags: { team: 'a' } });
      assert.equal(posts() - before, 2, 'the create was sent again after the lost answer');
      assert.deepEqual(written.tags, { team: 'a' });
      const got = await store.get('lost_answer');
      assert.equal(got.secret.expose(), 'first');
      got.secret.dispose();
      // Someone else's value under the id is still a Conflict, and nothing changes.
      await rejectsCode(store.create('lost_answer', 'second'), 'Conflict');
      const still = await store.get('lost_answer');
      assert.equal(still.secret.expose(), 'first');
      still.secret.dispose();
    } finally {
      await provider.close();
    }
  });

  it('a Vault create is a check-and-set on version 0, and a soft-deleted key can be created again', async () => {
    for (const deleteMode of ['destroy', 'soft'] as const) {
      const provider = new HashiCorpVaultProvider({
        address: vault.url,
        auth: { token: vault.rootToken },
        deleteMode,
      });
      await provider.connect();
      const store = new CredentialStore(provider, EncryptionManager.generate());
      try {
        const id = `cas_${deleteMode}`;
        await store.create(id, 'v1');
        const write = vault.requests.filter((r) => r.method === 'POST' && r.path.includes(`/data/`)).at(-1);
        assert.deepEqual(JSON.parse(write!.body.toString()).options, { cas: 0 });
        await rejectsCode(store.create(id, 'v2'), 'Conflict');
        await store.delete(id);
        await rejectsCode(store.get(id), 'NotFound');
        await store.create(id, 'v3');
        const got = await store.get(id);
        assert.equal(got.secret.expose(), 'v3');
        got.secret.dispose();
      } finally {
        await provider.close();
      }
    }
  });

  it('is Unsupported, before any write, on a provider that does not say it honours createOnly', async () => {
    class WithoutCreate extends MemoryStorageProvider {
      constructor() {
        super();
        Object.defineProperty(this, 'capabilities', {
          value: { ...this.capabilities, createOnly: undefined },
        });
      }
    }
    const provider = new WithoutCreate();
    const store = new CredentialStore(provider, EncryptionManager.generate());
    const error = await rejectsCode(store.create('any_id', 'v'), 'Unsupported');
    assert.match(error.message, /use put/);
    const data = EncryptionManager.generate().encrypt(Buffer.from('v'));
    await rejectsCode(
      provider.store('any_id', data, createMetadata(), undefined, { createOnly: true }),
      'Unsupported',
    );
    assert.equal(await provider.exists('any_id'), false);
  });
});
