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
import { awsChainEnv, withEnv } from './env-helpers.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Far above every bound: a client without one would buffer all of it. */
const HUGE = 96 * 1024 * 1024;

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

describe('AWS: the default chain’s STS client reads through the response bound', () => {
  it('web identity: an endless AssumeRoleWithWebIdentity answer is cut, not buffered', async () => {
    const { createServer } = await import('node:http');
    const { AwsSecretsManagerProvider } = await import('../../src/providers/aws-secrets-manager.js');
    const { AwsSecretsManagerEmulator } = await import('../../src/testing/emulators/aws.js');
    const emulator = new AwsSecretsManagerEmulator();
    await emulator.start();
    cleanups.push(() => emulator.stop());
    let sent = 0;
    let stsCalls = 0;
    const sts = createServer((req, res) => {
      stsCalls++;
      req.resume();
      res.writeHead(200, { 'content-type': 'text/xml' });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        let more = true;
        while (sent < HUGE && more) {
          sent += chunk.length;
          more = res.write(chunk);
        }
        if (sent >= HUGE) res.end();
      };
      res.on('drain', pump);
      res.on('close', () => res.off('drain', pump));
      pump();
    });
    await new Promise<void>((r) => sts.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => sts.close(r)));
    sts.on('connection', (s) => cleanups.push(() => s.destroy()));
    const dir = mkdtempSync(join(tmpdir(), 'nebula-aws-wi-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'token'), 'header.payload.signature');
    const { port } = sts.address() as { port: number };
    await withEnv(
      awsChainEnv(dir, {
        AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, 'token'),
        AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/app',
        AWS_ROLE_SESSION_NAME: 'nebula',
        AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${port}`,
      }),
      async () => {
        const provider = new AwsSecretsManagerProvider({
          region: emulator.region,
          endpoint: emulator.endpoint,
          retry: { maxRetries: 0 },
        });
        cleanups.push(() => provider.close());
        await assert.rejects(provider.connect(), (e: unknown) => {
          assert.ok(e instanceof StorageError, inspect(e));
          assert.equal(e.code, 'Unavailable', e.message);
          assert.equal(e.retryable, false, e.message);
          assert.equal(e.details['limitBytes'], responseBodyLimit(provider.capabilities.maxCredentialSize));
          return true;
        });
      },
    );
    assert.ok(stsCalls >= 1, 'the chain asked STS');
    assert.ok(sent < HUGE / 2, `the STS client read on: ${sent} of ${HUGE} bytes sent`);
  });
});
