// The token requests a provider's credential makes (Microsoft Entra ID, managed identity) read their answer
// through the same response bound as the service calls: an endless token response costs a connection, is
// cut at the bound with a typed error naming it, and is not buffered.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { StorageError } from '../../src/core/errors.js';
import { responseBodyLimit } from '../../src/core/response-limit.js';
import { type AzureKeyVaultOptions, AzureKeyVaultProvider } from '../../src/providers/azure-key-vault.js';
import type { EmulatorHttpServer, RecordedRequest } from '../../src/testing/emulator-kit/server.js';
import { AzureKeyVaultEmulator } from '../../src/testing/emulators/azure.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Far above every bound: a client without one would buffer all of it. */
const HUGE = 96 * 1024 * 1024;

/** Sets environment variables for the duration of `fn`, restoring every one afterwards. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Asserts `promise` rejects with the token-endpoint cut and that the client stopped reading early. */
async function assertCut(
  promise: Promise<unknown>,
  server: EmulatorHttpServer,
  streamedBefore: number,
  limit: number,
  provider: string,
): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof StorageError, inspect(e));
    assert.equal(e.code, 'Unavailable', e.message);
    assert.equal(e.provider, provider);
    assert.equal(e.retryable, false);
    assert.equal(e.details['limitBytes'], limit);
    assert.match(e.message, /token/);
    return true;
  });
  const read = server.streamedBodyBytes - streamedBefore;
  assert.ok(read < HUGE / 2, `the client read on: ${read} of ${HUGE} bytes sent`);
}

describe('Azure: the credential reads token responses through the response bound', () => {
  let emulator: AzureKeyVaultEmulator;
  const start = async () => {
    emulator = await new AzureKeyVaultEmulator().start();
    cleanups.push(() => emulator.stop());
    return emulator;
  };
  const isEntraToken = (r: RecordedRequest) => /\/oauth2\/v2\.0\/token$/.test(r.path);
  const isManagedIdentityToken = (r: RecordedRequest) => r.path.startsWith('/msi/token');

  for (const contentLength of [false, true]) {
    it(`client secret: an endless Entra token response (${contentLength ? 'with' : 'without'} Content-Length) is cut`, async () => {
      const e = emulator ?? (await start());
      const provider = new AzureKeyVaultProvider({ ...e.providerOptions(), retry: { maxRetries: 0 } });
      cleanups.push(() => provider.close());
      e.vault.faults.add({ action: { kind: 'body', bytes: HUGE, contentLength }, match: isEntraToken });
      await assertCut(
        provider.connect(),
        e.vault,
        e.vault.streamedBodyBytes,
        responseBodyLimit(provider.capabilities.maxCredentialSize),
        'azure-key-vault',
      );
      // The dropped connection is not reused: the next token request works.
      await provider.connect();
    });
  }

  it('workload identity: an endless Entra token response is cut', async () => {
    const e = emulator ?? (await start());
    const dir = mkdtempSync(join(tmpdir(), 'nebula-wi-bound-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'token'), e.directory.federatedToken);
    const options: AzureKeyVaultOptions = {
      ...e.providerOptions(),
      credential: {
        type: 'workload-identity',
        tenantId: e.tenantId,
        clientId: e.clientId,
        tokenFilePath: join(dir, 'token'),
      },
      retry: { maxRetries: 0 },
    };
    const provider = new AzureKeyVaultProvider(options);
    cleanups.push(() => provider.close());
    e.vault.faults.add({ action: { kind: 'body', bytes: HUGE }, match: isEntraToken });
    await assertCut(
      provider.connect(),
      e.vault,
      e.vault.streamedBodyBytes,
      responseBodyLimit(provider.capabilities.maxCredentialSize),
      'azure-key-vault',
    );
  });

  it('managed identity (App Service endpoint): an endless token response is cut', async () => {
    const e = emulator ?? (await start());
    await withEnv(
      {
        IDENTITY_ENDPOINT: undefined,
        IDENTITY_HEADER: undefined,
        MSI_ENDPOINT: undefined,
        MSI_SECRET: undefined,
        IMDS_ENDPOINT: undefined,
        AZURE_POD_IDENTITY_AUTHORITY_HOST: undefined,
        ...e.appServiceEnvironment(),
      },
      async () => {
        const provider = new AzureKeyVaultProvider({
          vaultUrl: e.vaultUrl,
          credential: { type: 'managed-identity' },
          tls: { caFile: e.caCertPath },
          retry: { maxRetries: 0 },
        });
        cleanups.push(() => provider.close());
        e.identity.faults.add({ action: { kind: 'body', bytes: HUGE }, match: isManagedIdentityToken });
        await assertCut(
          provider.connect(),
          e.identity,
          e.identity.streamedBodyBytes,
          responseBodyLimit(provider.capabilities.maxCredentialSize),
          'azure-key-vault',
        );
      },
    );
  });
});
