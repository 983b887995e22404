import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { EncryptionManager } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import { createMetadata } from '../../src/core/metadata.js';
import type { StorageProvider } from '../../src/core/provider.js';
import { ResponseTooLargeError, responseBodyLimit } from '../../src/core/response-limit.js';
import { transportError } from '../../src/core/transport.js';
import { AwsSecretsManagerProvider } from '../../src/providers/aws-secrets-manager.js';
import { AzureKeyVaultProvider } from '../../src/providers/azure-key-vault.js';
import { KubernetesSecretsProvider } from '../../src/providers/kubernetes-secrets.js';
import type { EmulatorHttpServer, RecordedRequest } from '../../src/testing/emulator-kit/server.js';
import { AwsSecretsManagerEmulator } from '../../src/testing/emulators/aws.js';
import { AzureKeyVaultEmulator } from '../../src/testing/emulators/azure.js';
import { KubernetesEmulator } from '../../src/testing/emulators/kubernetes.js';

const stops: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const stop of stops.reverse()) await stop();
});

/** Far above every provider's bound: a client without one would buffer all of it. */
const HUGE = 96 * 1024 * 1024;
const RETRY = { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2 };

interface Case {
  name: string;
  /** A connected provider holding the credential `present`, its emulator's server and its read matcher. */
  start(): Promise<{
    provider: StorageProvider;
    server: EmulatorHttpServer;
    isRead(r: RecordedRequest): boolean;
  }>;
}

const cases: Case[] = [
  {
    name: 'aws-secrets-manager',
    async start() {
      const emulator = new AwsSecretsManagerEmulator();
      await emulator.start();
      stops.push(() => emulator.stop());
      const provider = new AwsSecretsManagerProvider({
        region: emulator.region,
        endpoint: emulator.endpoint,
        credentials: emulator.credentials,
        retry: RETRY,
      });
      stops.push(() => provider.close());
      return {
        provider,
        server: emulator.server,
        isRead: (r) => r.headers['x-amz-target'] === 'secretsmanager.GetSecretValue',
      };
    },
  },
  {
    name: 'azure-key-vault',
    async start() {
      const emulator = await new AzureKeyVaultEmulator().start();
      stops.push(() => emulator.stop());
      const provider = new AzureKeyVaultProvider({ ...emulator.providerOptions(), retry: RETRY });
      stops.push(() => provider.close());
      return {
        provider,
        server: emulator.vault,
        isRead: (r) => r.method === 'GET' && /^\/secrets\/[^/]+\/?$/.test(r.path),
      };
    },
  },
  {
    name: 'kubernetes',
    async start() {
      const emulator = new KubernetesEmulator();
      await emulator.start();
      stops.push(() => emulator.stop());
      const token = emulator.createServiceAccount('apps', 'app');
      emulator.grant('apps', 'app');
      const provider = new KubernetesSecretsProvider({
        kubeconfigPath: emulator.writeKubeconfig({ token, namespace: 'apps' }),
        retry: RETRY,
      });
      stops.push(() => provider.close());
      return {
        provider,
        server: emulator.server,
        isRead: (r) => r.method === 'GET' && /\/namespaces\/apps\/secrets\/[^/]+$/.test(r.path),
      };
    },
  },
];

describe('every SDK-backed provider bounds the response bodies it reads', () => {
  for (const c of cases) {
    for (const contentLength of [false, true]) {
      it(`${c.name}: a huge body (${contentLength ? 'with' : 'without'} Content-Length) is SizeLimitExceeded, not retried, connection dropped`, async () => {
        const { provider, server, isRead } = await c.start();
        const data = EncryptionManager.generate().encrypt(Buffer.from('value'));
        await provider.store('present', data, createMetadata());
        server.faults.add({ action: { kind: 'body', bytes: HUGE, contentLength }, match: isRead });
        const reads = server.count(isRead);
        const streamed = server.streamedBodyBytes;
        await assert.rejects(provider.retrieve('present'), (e: unknown) => {
          assert.ok(e instanceof StorageError, inspect(e));
          assert.equal(e.code, 'SizeLimitExceeded', e.message);
          assert.equal(e.retryable, false);
          assert.equal(e.provider, c.name);
          assert.equal(e.details.limit, responseBodyLimit(provider.capabilities.maxCredentialSize));
          return true;
        });
        assert.equal(server.count(isRead) - reads, 1, 'an oversize answer is not retried');
        assert.ok(
          server.streamedBodyBytes - streamed < HUGE / 2,
          `the client read on: ${server.streamedBodyBytes - streamed} of ${HUGE} bytes sent`,
        );
        // The abandoned connection is not reused: the next read works.
        const again = await provider.retrieve('present');
        assert.deepEqual(Buffer.from(again.data.ciphertext), Buffer.from(data.ciphertext));
      });
    }
  }
});

describe('responseTooLargeError', () => {
  it('recognises the cut however an SDK wraps it, and undici maxResponseSize the same way', () => {
    const context = {
      provider: 'kubernetes',
      operation: 'retrieve' as const,
      service: 'the Kubernetes API server',
    };
    const cut = new ResponseTooLargeError(9_000_000, true, 8_000_000);
    for (const wrapped of [
      cut,
      new Error('request failed', { cause: cut }),
      Object.assign(new Error('Invalid response body'), { type: 'system', erroredSysCall: cut }),
      Object.assign(new Error('Response content exceeded max size'), {
        code: 'UND_ERR_RES_EXCEEDED_MAX_SIZE',
      }),
    ]) {
      const mapped = transportError(wrapped, context);
      assert.equal(mapped?.code, 'SizeLimitExceeded', inspect(wrapped));
      assert.equal(mapped?.retryable, false);
    }
    assert.equal(transportError(new Error('other'), context), undefined);
  });
});
