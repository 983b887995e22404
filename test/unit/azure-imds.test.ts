import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createMetadata } from '../../src/core/metadata.js';
import { AzureKeyVaultProvider } from '../../src/providers/azure-key-vault.js';
import { AzureKeyVaultEmulator } from '../../src/testing/emulators/azure.js';

// Its own file because MSAL fixes the managed identity source (App Service, IMDS, ...) once per process.
const VARS = [
  'IDENTITY_ENDPOINT',
  'IDENTITY_HEADER',
  'IDENTITY_SERVER_THUMBPRINT',
  'MSI_ENDPOINT',
  'MSI_SECRET',
  'IMDS_ENDPOINT',
  'AZURE_POD_IDENTITY_AUTHORITY_HOST',
];

describe('azure-key-vault: managed identity through the IMDS endpoint', () => {
  let emulator: AzureKeyVaultEmulator;
  const saved = new Map<string, string | undefined>();
  before(async () => {
    emulator = await new AzureKeyVaultEmulator({ tokenLifetimeSeconds: 240 }).start();
    for (const k of VARS) {
      saved.set(k, process.env[k]);
      delete process.env[k];
    }
    Object.assign(process.env, emulator.imdsEnvironment());
  });
  after(async () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await emulator.stop();
  });

  it('stores and reads with a user-assigned identity chosen by client id, no secret in the config', async () => {
    const clientId = emulator.addUserAssignedIdentity(['Key Vault Secrets Officer']);
    const provider = new AzureKeyVaultProvider({
      vaultUrl: emulator.vaultUrl,
      credential: { type: 'managed-identity', clientId },
      tls: { caFile: emulator.caCertPath },
    });
    const data = {
      version: 1,
      keyId: 'k',
      nonce: randomBytes(12),
      ciphertext: Buffer.from('imds'),
      tag: randomBytes(16),
    };
    await provider.store('imds_secret', data, createMetadata());
    assert.equal(Buffer.from((await provider.retrieve('imds_secret')).data.ciphertext).toString(), 'imds');
    const request = emulator.identity.requests.at(-1)!;
    assert.match(request.path, /^\/metadata\/identity\/oauth2\/token\/?$/);
    assert.equal(request.query.get('api-version'), '2018-02-01');
    assert.equal(request.query.get('client_id'), clientId);
    assert.equal(request.headers['metadata'], 'true');
    await provider.close();
  });

  it('the system-assigned identity without an Officer role gets PermissionDenied naming the role', async () => {
    emulator.setRoles(emulator.directory.systemIdentity.clientId, ['Key Vault Reader']);
    const provider = new AzureKeyVaultProvider({
      vaultUrl: emulator.vaultUrl,
      tls: { caFile: emulator.caCertPath },
    });
    await provider.connect();
    const error = await provider.retrieve('imds_secret').then(
      () => assert.fail('expected PermissionDenied'),
      (e: { code: string; details: Record<string, unknown> }) => e,
    );
    assert.equal(error.code, 'PermissionDenied');
    assert.equal(error.details['requiredRole'], 'Key Vault Secrets User');
    await provider.close();
  });
});
