import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EncryptionManager } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import { createMetadata } from '../../src/core/metadata.js';
import type { StorageProvider } from '../../src/core/provider.js';
import { AwsSecretsManagerProvider } from '../../src/providers/aws-secrets-manager.js';
import { AzureKeyVaultProvider } from '../../src/providers/azure-key-vault.js';
import { GcpSecretManagerProvider } from '../../src/providers/gcp-secret-manager.js';
import { HashiCorpVaultProvider } from '../../src/providers/hashicorp-vault.js';
import { KubernetesSecretsProvider } from '../../src/providers/kubernetes-secrets.js';
import { AwsSecretsManagerEmulator } from '../../src/testing/emulators/aws.js';
import { AzureKeyVaultEmulator } from '../../src/testing/emulators/azure.js';
import { GcpSecretManagerEmulator } from '../../src/testing/emulators/gcp.js';
import { KubernetesEmulator } from '../../src/testing/emulators/kubernetes.js';
import { VaultEmulator } from '../../src/testing/emulators/vault.js';

// `maxSockets` is the one pool option of every network provider: 32 concurrent retrieves never open more
// connections than it allows, and a value out of range is refused before any I/O.
const POOL = 3;
const CONCURRENT = 32;

interface Case {
  name: string;
  start(
    maxSockets: number,
  ): Promise<{ provider: StorageProvider; connections: () => number; stop: () => Promise<unknown> }>;
  build(maxSockets: unknown): unknown;
}

const cases: Case[] = [
  {
    name: 'aws-secrets-manager',
    async start(maxSockets) {
      const emulator = new AwsSecretsManagerEmulator();
      await emulator.start();
      const provider = new AwsSecretsManagerProvider({
        region: emulator.region,
        endpoint: emulator.endpoint,
        credentials: emulator.credentials,
        maxSockets,
      });
      return { provider, connections: () => emulator.connections, stop: () => emulator.stop() };
    },
    build: (maxSockets) => new AwsSecretsManagerProvider({ region: 'eu-west-1', maxSockets } as never),
  },
  {
    name: 'azure-key-vault',
    async start(maxSockets) {
      const emulator = await new AzureKeyVaultEmulator().start();
      const provider = new AzureKeyVaultProvider({ ...emulator.providerOptions(), maxSockets });
      return { provider, connections: () => emulator.vault.connections, stop: () => emulator.stop() };
    },
    build: (maxSockets) =>
      new AzureKeyVaultProvider({ vaultUrl: 'https://v.vault.azure.net', maxSockets } as never),
  },
  {
    // REST: its calls share the pool; gRPC multiplexes every call over one HTTP/2 connection.
    name: 'gcp-secret-manager (rest)',
    async start(maxSockets) {
      const emulator = new GcpSecretManagerEmulator();
      await emulator.start();
      // The first connect signs a token request with RSA: give it room on a loaded machine.
      const provider = new GcpSecretManagerProvider({
        ...emulator.providerOptions('rest'),
        maxSockets,
        timeouts: { connectMs: 20_000 },
      });
      return { provider, connections: () => emulator.connections.rest, stop: () => emulator.stop() };
    },
    build: (maxSockets) => new GcpSecretManagerProvider({ projectId: 'p', maxSockets } as never),
  },
  {
    name: 'hashicorp-vault',
    async start(maxSockets) {
      const vault = new VaultEmulator();
      await vault.start();
      const provider = new HashiCorpVaultProvider({
        address: vault.url,
        auth: { token: vault.rootToken },
        maxSockets,
      });
      return { provider, connections: () => vault.connections, stop: () => vault.stop() };
    },
    build: (maxSockets) =>
      new HashiCorpVaultProvider({
        address: 'https://vault:8200',
        auth: { token: 't' },
        maxSockets,
      } as never),
  },
  {
    name: 'kubernetes',
    async start(maxSockets) {
      const kube = new KubernetesEmulator();
      await kube.start();
      const token = kube.createServiceAccount('pool', 'app');
      kube.grant('pool', 'app');
      const provider = new KubernetesSecretsProvider({
        kubeconfigPath: kube.writeKubeconfig({ token, namespace: 'pool' }),
        maxSockets,
      });
      return { provider, connections: () => kube.server.connections, stop: () => kube.stop() };
    },
    build: (maxSockets) => new KubernetesSecretsProvider({ kubeconfigPath: '/nowhere', maxSockets } as never),
  },
];

describe('maxSockets: the connection pool of every network provider', () => {
  for (const c of cases) {
    it(`${c.name}: ${CONCURRENT} concurrent retrieves use at most maxSockets connections`, async () => {
      const { provider, connections, stop } = await c.start(POOL);
      try {
        await provider.connect();
        const data = EncryptionManager.generate().encrypt(Buffer.from('pooled'));
        await provider.store('pooled', data, createMetadata());
        const before = connections();
        const results = await Promise.all(
          Array.from({ length: CONCURRENT }, () => provider.retrieve('pooled')),
        );
        assert.equal(results.length, CONCURRENT);
        assert.ok(connections() >= 1, 'the emulator counts connections');
        assert.ok(
          connections() - before <= POOL && connections() <= POOL + 1,
          `${connections()} connections (${before} before) for a pool of ${POOL}`,
        );
      } finally {
        await provider.close();
        await stop();
      }
    });

    it(`${c.name}: refuses maxSockets outside 1-1024 with InvalidConfig naming it`, () => {
      for (const bad of [0, 1025, 2.5, 'many']) {
        assert.throws(
          () => c.build(bad),
          (error: unknown) =>
            error instanceof StorageError &&
            error.code === 'InvalidConfig' &&
            /maxSockets/.test(error.message),
          `maxSockets ${String(bad)}`,
        );
      }
    });
  }
});
