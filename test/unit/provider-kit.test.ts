import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BaseStorageProvider } from '../../src/core/base-provider.js';
import type { EncryptedData } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import type { CredentialId } from '../../src/core/id.js';
import { type CredentialMetadata, createMetadata } from '../../src/core/metadata.js';
import type { AttemptContext } from '../../src/core/operation.js';
import { resolveCommonOptions } from '../../src/core/options.js';
import { loadPeerPackages, type PeerPackage } from '../../src/core/peer.js';
import type { ProviderCapabilities, StoredCredential } from '../../src/core/provider.js';
import { SecretString } from '../../src/core/secret-string.js';
import { AwsSecretsManagerProvider } from '../../src/providers/aws-secrets-manager.js';
import { AzureKeyVaultProvider } from '../../src/providers/azure-key-vault.js';
import { HashiCorpVaultProvider } from '../../src/providers/hashicorp-vault.js';
import { AwsSecretsManagerEmulator } from '../../src/testing/emulators/aws.js';
import { AzureKeyVaultEmulator } from '../../src/testing/emulators/azure.js';
import { VaultEmulator } from '../../src/testing/emulators/vault.js';

const BUILD_SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function data(): EncryptedData {
  return {
    version: 1,
    keyId: 'kit00000',
    nonce: randomBytes(12),
    ciphertext: randomBytes(8),
    tag: randomBytes(16),
  };
}

function missing(name: string): PeerPackage {
  return {
    name,
    range: '^1.0.0',
    load: () =>
      Promise.reject(
        Object.assign(new Error(`Cannot find package '${name}'`), { code: 'ERR_MODULE_NOT_FOUND' }),
      ),
  };
}

/** A provider that records what the base class hands it. */
class KitProbe extends BaseStorageProvider<{ document: string }> {
  readonly name = 'kit-probe';
  readonly capabilities: ProviderCapabilities = {
    maxCredentialSize: 1024,
    maxIdBytes: 255,
    versioning: false,
    softDelete: false,
    nativeTagFiltering: false,
    persistent: false,
  };
  readonly events: string[] = [];
  readonly prepared: object[] = [];
  failStores = 0;

  constructor(options: { peers?: PeerPackage[]; connectMs?: number; secrets?: SecretString[] } = {}) {
    super({
      name: 'kit-probe',
      common: resolveCommonOptions('kit-probe', {
        retry: { baseDelayMs: 1, maxDelayMs: 2 },
        timeouts: { connectMs: options.connectMs ?? 2000 },
      }),
      secrets: options.secrets,
      mapError: (e) => new StorageError({ code: 'Internal', message: 'probe', cause: e }),
      peers: options.peers,
    });
  }

  sdk<T>(name: string): T {
    return this.peer<T>(name);
  }

  protected override prepareStore(id: CredentialId, d: EncryptedData, metadata: CredentialMetadata) {
    this.events.push('prepare');
    return { document: `${id.value}:${d.ciphertext.length}:${metadata.tags['k'] ?? ''}` };
  }
  protected async connectBackend(): Promise<void> {
    this.events.push('connect');
  }
  protected async storeBackend(
    _id: CredentialId,
    prepared: { document: string },
    _m: CredentialMetadata,
    _a: AttemptContext,
  ) {
    this.events.push('store');
    this.prepared.push(prepared);
    if (this.failStores-- > 0) throw new StorageError({ code: 'Unavailable', message: 'try again' });
  }
  protected async retrieveBackend(): Promise<StoredCredential> {
    throw new StorageError({ code: 'NotFound', message: 'none' });
  }
  protected async deleteBackend(): Promise<void> {}
  protected async listBackend(): Promise<string[]> {
    return [];
  }
  protected async existsBackend(): Promise<boolean> {
    return false;
  }
}

/** Runs `fn` recording every SecretString disposed meanwhile. */
async function recordingDisposals(fn: () => Promise<void>): Promise<SecretString[]> {
  const disposed: SecretString[] = [];
  const original = SecretString.prototype.dispose;
  SecretString.prototype.dispose = function (this: SecretString) {
    if (!this.disposed) disposed.push(this);
    original.call(this);
  };
  try {
    await fn();
  } finally {
    SecretString.prototype.dispose = original;
  }
  return disposed;
}

describe('provider kit: store preparation', () => {
  it('prepares a store once, before any I/O, and hands the same result to every attempt', async () => {
    const probe = new KitProbe();
    probe.failStores = 2;
    await probe.store('api_key', data(), createMetadata({ tags: { k: 'v' } }));
    assert.deepEqual(
      probe.events,
      ['prepare', 'connect', 'store', 'store', 'store'],
      'prepared before connecting',
    );
    assert.equal(new Set(probe.prepared).size, 1, 'one prepared value for all three attempts');
    assert.deepEqual(probe.prepared[0], { document: 'api_key:8:v' });
    await probe.close();
  });
});

describe('provider kit: optional SDKs', () => {
  it('loads the peers before the connect deadline starts, then hands them to the provider', async () => {
    const sdk = { version: 'slow-sdk' };
    // Loading takes far longer than the 5 ms deadline, which therefore cannot have been running.
    const slow: PeerPackage = {
      name: 'slow-sdk',
      range: '^1',
      load: () => new Promise((resolve) => setTimeout(() => resolve(sdk), 100)),
    };
    const probe = new KitProbe({ peers: [slow], connectMs: 5 });
    await probe.connect();
    assert.equal(probe.sdk('slow-sdk'), sdk);
    assert.deepEqual(probe.events, ['connect']);
    await probe.close();
  });

  it('names every missing package in one MissingDependency with one install command, and loads again later', async () => {
    let loads = 0;
    const present: PeerPackage = { name: 'present', range: '^2', load: async () => ({ loads: ++loads }) };
    const probe = new KitProbe({ peers: [missing('@scope/first'), present, missing('second')] });
    for (let i = 0; i < 2; i++) {
      const error = await probe.connect().then(
        () => assert.fail('expected MissingDependency'),
        (e: unknown) => e as StorageError,
      );
      assert.equal(error.code, 'MissingDependency');
      assert.equal(error.operation, 'connect');
      assert.deepEqual(error.details['packages'], ['@scope/first', 'second']);
      assert.match(
        error.message,
        /needs the optional packages @scope\/first and second: run npm install @scope\/first@\^1\.0\.0 second@\^1\.0\.0$/,
      );
    }
    assert.equal(loads, 2, 'a failed load is not cached');
    assert.deepEqual(probe.events, [], 'connectBackend never ran');
    await probe.close();
  });

  it('rethrows a failure that is not a missing package as it is', async () => {
    const broken = new Error('SyntaxError in the SDK');
    await assert.rejects(
      loadPeerPackages('kit-probe', [{ name: 'broken', range: '^1', load: () => Promise.reject(broken) }]),
      (e) => e === broken,
    );
  });

  it('Azure without its SDKs names both @azure/keyvault-secrets and @azure/identity (only the first with a ready credential)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nebula-peers-'));
    const hooks = join(dir, 'hooks.mjs');
    writeFileSync(
      hooks,
      `export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@azure/')) {
    throw Object.assign(new Error('Cannot find package ' + specifier), { code: 'ERR_MODULE_NOT_FOUND' });
  }
  return next(specifier, context);
}`,
    );
    const factory = pathToFileURL(join(BUILD_SRC, 'providers', 'factory.js')).href;
    const script = `
import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(hooks).href)});
const { createStorageProvider } = await import(${JSON.stringify(factory)});
const out = [];
for (const credential of [undefined, { getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3600e3 }) }]) {
  try {
    await createStorageProvider({ provider: 'azure-key-vault', vaultUrl: 'https://kit.vault.azure.net', ...(credential ? { credential } : {}) });
    out.push('connected');
  } catch (e) {
    out.push({ code: e.code, message: e.message, packages: e.details.packages });
  }
}
console.log(JSON.stringify(out));`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const [plain, ready] = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    assert.equal(plain.code, 'MissingDependency');
    assert.deepEqual(plain.packages, ['@azure/keyvault-secrets', '@azure/identity']);
    assert.match(
      plain.message,
      /npm install @azure\/keyvault-secrets@\^4\.11\.2 @azure\/identity@\^4\.13\.1/,
    );
    assert.deepEqual(ready.packages, ['@azure/keyvault-secrets']);
  });
});

describe('provider kit: secrets given in options', () => {
  it('the base class disposes exactly the secrets it was handed, on close', async () => {
    const owned = [new SecretString('a'), new SecretString('b')];
    const probe = new KitProbe({ secrets: owned });
    const disposed = await recordingDisposals(() => probe.close());
    assert.deepEqual(disposed, owned);
  });

  it('HashiCorp Vault copies the token: the caller may dispose its own at once; close disposes only the copy', async () => {
    const vault = new VaultEmulator();
    await vault.start();
    try {
      const token = new SecretString(vault.rootToken);
      const provider = new HashiCorpVaultProvider({
        address: vault.url,
        dangerouslyAllowInsecureHttp: true,
        auth: { token },
      });
      token.dispose();
      assert.deepEqual(await provider.list(), []);
      const appRoleId = new SecretString('role');
      const appSecret = new SecretString('secret');
      const role = new HashiCorpVaultProvider({
        address: vault.url,
        dangerouslyAllowInsecureHttp: true,
        auth: { appRole: { roleId: appRoleId, secretId: appSecret } },
      });
      const disposed = await recordingDisposals(async () => {
        await provider.close();
        await role.close();
      });
      assert.equal(disposed.length, 3, 'one token copy and the two AppRole copies');
      assert.ok(!disposed.includes(appRoleId) && !disposed.includes(appSecret));
      assert.equal(appRoleId.expose(), 'role');
    } finally {
      await vault.stop();
    }
  });

  it("AWS copies explicit credentials and never disposes the caller's SecretString", async () => {
    const key = {
      accessKeyId: 'AKIANEBULAKITTEST001',
      secretAccessKey: `kit-${randomBytes(12).toString('hex')}`,
    };
    const emulator = new AwsSecretsManagerEmulator({ accessKeys: [key] });
    await emulator.start();
    try {
      const secretAccessKey = new SecretString(key.secretAccessKey);
      const sessionToken = new SecretString('unused-session-token');
      const provider = new AwsSecretsManagerProvider({
        region: emulator.region,
        endpoint: emulator.endpoint,
        credentials: { accessKeyId: key.accessKeyId, secretAccessKey },
      });
      secretAccessKey.dispose();
      assert.deepEqual(await provider.list(), []);
      const second = new AwsSecretsManagerProvider({
        region: emulator.region,
        endpoint: emulator.endpoint,
        credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, sessionToken },
      });
      const disposed = await recordingDisposals(async () => {
        await provider.close();
        await second.close();
      });
      assert.equal(disposed.length, 3);
      assert.ok(!disposed.includes(sessionToken));
      assert.equal(sessionToken.expose(), 'unused-session-token');
    } finally {
      await emulator.stop();
    }
  });

  it("Azure copies the client secret: close never disposes the caller's object", async () => {
    const emulator = await new AzureKeyVaultEmulator().start();
    try {
      const clientSecret = new SecretString(emulator.clientSecret);
      const provider = new AzureKeyVaultProvider({
        ...emulator.providerOptions(),
        credential: {
          type: 'client-secret',
          tenantId: emulator.tenantId,
          clientId: emulator.clientId,
          clientSecret,
        },
      });
      await provider.connect();
      const disposed = await recordingDisposals(() => provider.close());
      assert.equal(disposed.length, 1);
      assert.notEqual(disposed[0], clientSecret);
      assert.equal(clientSecret.disposed, false);
      assert.equal(clientSecret.expose(), emulator.clientSecret);
      clientSecret.dispose();
    } finally {
      await emulator.stop();
    }
  });
});
