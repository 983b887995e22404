// Throughput of 32 concurrent retrieves (FC-001): per cloud provider, the raw SDK, the provider's `retrieve`
// and the facade's `get`, all with the same pool size (`maxSockets`), against the loopback emulators in this
// process. 32 workers each loop on one call until a block's calls are done; the three cases run in
// alternating blocks (order rotated each round) so load on the machine hits them alike, and the median
// ops/s of the blocks is reported with the ratio to raw (target: provider and facade >= 0.9x raw).
// Figures are printed, never asserted.
import { Agent as HttpAgent } from 'node:http';
import { type Agent, Agent as HttpsAgent } from 'node:https';
import { performance } from 'node:perf_hooks';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SecretClient } from '@azure/keyvault-secrets';
import * as k8s from '@kubernetes/client-node';
import { EncryptionManager } from '../src/core/crypto.js';
import { encodeCredentialDocument } from '../src/core/document.js';
import { createMetadata } from '../src/core/metadata.js';
import type { StorageProvider } from '../src/core/provider.js';
import { CredentialStore } from '../src/core/store.js';
import { AwsSecretsManagerProvider } from '../src/providers/aws-secrets-manager.js';
import { AzureKeyVaultProvider } from '../src/providers/azure-key-vault.js';
import { GcpSecretManagerProvider } from '../src/providers/gcp-secret-manager.js';
import { HashiCorpVaultProvider } from '../src/providers/hashicorp-vault.js';
import { KubernetesSecretsProvider } from '../src/providers/kubernetes-secrets.js';
import { AwsSecretsManagerEmulator } from '../src/testing/emulators/aws.js';
import { AzureKeyVaultEmulator } from '../src/testing/emulators/azure.js';
import { GcpSecretManagerEmulator } from '../src/testing/emulators/gcp.js';
import { KubernetesEmulator } from '../src/testing/emulators/kubernetes.js';
import { VaultEmulator } from '../src/testing/emulators/vault.js';
import { sdkClient, serviceAccountAuth } from '../test/unit/gcp-helpers.js';
import { kubeCallsThrough, rawAzureCredential, rawVaultClient } from './raw-clients.js';

const CONCURRENCY = Number(process.env['CONCURRENCY_BENCH_WORKERS'] ?? 32);
const MAX_SOCKETS = Number(process.env['CONCURRENCY_BENCH_MAX_SOCKETS'] ?? 16);
const CALLS_PER_BLOCK = Number(process.env['CONCURRENCY_BENCH_CALLS'] ?? 1600);
const ROUNDS = Number(process.env['CONCURRENCY_BENCH_ROUNDS'] ?? 5);
const ID = 'concurrent_value';

interface Target {
  name: string;
  /** One raw SDK read of the same document the provider reads. */
  raw: () => Promise<unknown>;
  provider: StorageProvider;
  stop: () => Promise<void>;
}

/** Ops/s of `calls` calls made by `CONCURRENCY` workers, each awaiting its previous call. */
async function block(call: () => Promise<unknown>, calls: number): Promise<number> {
  let left = calls;
  const worker = async () => {
    while (left-- > 0) await call();
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return calls / ((performance.now() - started) / 1000);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

async function measureTarget(target: Target): Promise<void> {
  const store = new CredentialStore(target.provider, EncryptionManager.generate());
  await target.provider.connect();
  await store.put(ID, 'a typical 40-byte database password value');
  // What an application pays doing its own client-side encryption over the raw SDK: the same read, then
  // one AES-GCM decryption in node:crypto (the facade's own cost is what remains beyond it).
  const manager = EncryptionManager.generate();
  const sealed = manager.encrypt(Buffer.from('a typical 40-byte database password value'), Buffer.from(ID));
  const cases: Record<string, () => Promise<unknown>> = {
    'raw SDK': target.raw,
    'raw SDK + AES-GCM': () => target.raw().then(() => manager.decrypt(sealed, Buffer.from(ID)).fill(0)),
    'provider retrieve': () => target.provider.retrieve(ID),
    'facade get': () => store.get(ID).then((r) => r.secret.dispose()),
  };
  const labels = Object.keys(cases);
  // Warm-up: JIT, every pooled socket opened, tokens fetched.
  for (const label of labels) await block(cases[label]!, CONCURRENCY * 8);
  const samples: Record<string, number[]> = Object.fromEntries(labels.map((l) => [l, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < labels.length; k++) {
      const label = labels[(round + k) % labels.length]!;
      samples[label]!.push(await block(cases[label]!, CALLS_PER_BLOCK));
    }
  }
  const raw = median(samples['raw SDK']!);
  const rawDecrypt = median(samples['raw SDK + AES-GCM']!);
  console.log(
    `\n${target.name}: ${CONCURRENCY} concurrent retrieves, maxSockets ${MAX_SOCKETS} on every side (median of ${ROUNDS} blocks of ${CALLS_PER_BLOCK} calls)`,
  );
  for (const label of labels) {
    const opsPerSecond = median(samples[label]!);
    const spread = `${Math.round(Math.min(...samples[label]!))}-${Math.round(Math.max(...samples[label]!))}`;
    const note =
      label === 'raw SDK'
        ? 'baseline'
        : label === 'facade get'
          ? `${(opsPerSecond / raw).toFixed(2)}x raw (target >= 0.90x); ${(opsPerSecond / rawDecrypt).toFixed(2)}x raw + AES-GCM`
          : `${(opsPerSecond / raw).toFixed(2)}x raw (target >= 0.90x)`;
    console.log(
      `${label.padEnd(18)} ${String(Math.round(opsPerSecond)).padStart(7)} ops/s  (blocks ${spread})  ${note}`,
    );
  }
  await store.close();
  await target.stop();
}

const data = EncryptionManager.generate().encrypt(Buffer.from('a typical 40-byte database password value'));
const metadata = createMetadata({ tags: { env: 'bench' } });
const document = encodeCredentialDocument(data, metadata);

async function aws(): Promise<Target> {
  const emulator = new AwsSecretsManagerEmulator();
  await emulator.start();
  const raw = new SecretsManagerClient({
    region: emulator.region,
    endpoint: emulator.endpoint,
    credentials: emulator.credentials,
    maxAttempts: 1,
    requestHandler: { httpAgent: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }) },
  });
  await raw.send(new CreateSecretCommand({ Name: 'raw/value', SecretString: document }));
  return {
    name: 'aws-secrets-manager (http)',
    raw: () => raw.send(new GetSecretValueCommand({ SecretId: 'raw/value' })),
    provider: new AwsSecretsManagerProvider({
      region: emulator.region,
      endpoint: emulator.endpoint,
      credentials: emulator.credentials,
      maxSockets: MAX_SOCKETS,
    }),
    stop: async () => {
      raw.destroy();
      await emulator.stop();
    },
  };
}

async function azure(): Promise<Target> {
  const emulator = await new AzureKeyVaultEmulator().start();
  const credential = rawAzureCredential(emulator);
  const raw = new SecretClient(emulator.vaultUrl, credential, {
    retryOptions: { maxRetries: 0 },
    disableChallengeResourceVerification: true,
    agent: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS, ca: emulator.ca.caCertPem }),
  });
  await raw.setSecret('raw-value', document);
  return {
    name: 'azure-key-vault (https)',
    raw: () => raw.getSecret('raw-value'),
    provider: new AzureKeyVaultProvider({ ...emulator.providerOptions(), maxSockets: MAX_SOCKETS }),
    stop: () => emulator.stop(),
  };
}

async function gcp(): Promise<Target> {
  const emulator = new GcpSecretManagerEmulator();
  await emulator.start();
  // gRPC multiplexes every call over one HTTP/2 connection on both sides; maxSockets bounds REST only.
  const raw = sdkClient(emulator, await serviceAccountAuth(emulator, 'token-endpoint'), 'grpc');
  const parent = `projects/${emulator.projectId}`;
  const noRetry = { retry: { retryCodes: [] } };
  await raw.createSecret(
    { parent, secretId: 'raw_value', secret: { replication: { automatic: {} } } },
    noRetry,
  );
  await raw.addSecretVersion(
    { parent: `${parent}/secrets/raw_value`, payload: { data: Buffer.from(document) } },
    noRetry,
  );
  return {
    name: 'gcp-secret-manager (grpc)',
    raw: () => raw.accessSecretVersion({ name: `${parent}/secrets/raw_value/versions/latest` }, noRetry),
    provider: new GcpSecretManagerProvider({
      ...emulator.providerOptions('grpc'),
      prefix: 'p_',
      maxSockets: MAX_SOCKETS,
    }),
    stop: async () => {
      await raw.close();
      await emulator.stop();
    },
  };
}

async function vault(): Promise<Target> {
  const emulator = new VaultEmulator();
  await emulator.start();
  const agent = new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  const call = rawVaultClient(emulator.url, emulator.rootToken, agent);
  await call('POST', 'secret/data/raw/value', { data: JSON.parse(document) });
  return {
    name: 'hashicorp-vault (http)',
    raw: () => call('GET', 'secret/data/raw/value'),
    provider: new HashiCorpVaultProvider({
      address: emulator.url,
      auth: { token: emulator.rootToken },
      maxSockets: MAX_SOCKETS,
    }),
    stop: async () => {
      agent.destroy();
      await emulator.stop();
    },
  };
}

async function kubernetes(): Promise<Target> {
  const emulator = new KubernetesEmulator();
  await emulator.start();
  const namespace = 'bench';
  const token = emulator.createServiceAccount(namespace, 'bench');
  emulator.grant(namespace, 'bench');
  const kubeconfigPath = emulator.writeKubeconfig({ token, namespace });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const raw = kc.makeApiClient(k8s.CoreV1Api);
  const agent: Agent = new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS, ca: emulator.caCertPem });
  const pooled = kubeCallsThrough(agent);
  await raw.createNamespacedSecret(
    {
      namespace,
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'raw-value' },
        data: { credential: Buffer.from(document).toString('base64') },
      },
    },
    pooled,
  );
  return {
    name: 'kubernetes-secrets (https)',
    raw: () => raw.readNamespacedSecret({ namespace, name: 'raw-value' }, pooled),
    provider: new KubernetesSecretsProvider({ kubeconfigPath, maxSockets: MAX_SOCKETS }),
    stop: async () => {
      agent.destroy();
      await emulator.stop();
    },
  };
}

// CONCURRENCY_BENCH_ONLY=vault,aws runs a subset (matched against the function names).
const only = process.env['CONCURRENCY_BENCH_ONLY']?.split(',');
for (const make of [aws, azure, gcp, vault, kubernetes]) {
  if (!only || only.some((name) => make.name.includes(name))) await measureTarget(await make());
}
