import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EncryptionManager } from '../src/core/crypto.js';
import { createMetadata } from '../src/core/metadata.js';
import { StorageMetrics } from '../src/core/metrics.js';
import type { StorageProvider } from '../src/core/provider.js';
import { CredentialStore } from '../src/core/store.js';
import { AwsSecretsManagerProvider } from '../src/providers/aws-secrets-manager.js';
import { AzureKeyVaultProvider } from '../src/providers/azure-key-vault.js';
import { HashiCorpVaultProvider } from '../src/providers/hashicorp-vault.js';
import { KubernetesSecretsProvider } from '../src/providers/kubernetes-secrets.js';
import { LocalStorageProvider } from '../src/providers/local.js';
import { AwsSecretsManagerEmulator } from '../src/testing/emulators/aws.js';
import { AzureKeyVaultEmulator } from '../src/testing/emulators/azure.js';
import { KubernetesEmulator } from '../src/testing/emulators/kubernetes.js';
import { VaultEmulator } from '../src/testing/emulators/vault.js';
import { measure, printTable, summarize } from './util.js';

// What a user pays: the facade calls (put of a new id, put over an existing one, get) beside the provider
// calls, and the requests each backend received per call beside the raw minimum. The raw SDK figures are in
// each provider's own bench. Figures are printed, never asserted (the conformance suite asserts the counts).
const ITERATIONS = Number(process.env.FACADE_BENCH_ITERATIONS ?? 300);
const VALUE = 'x'.repeat(256);

interface Backend {
  name: string;
  provider: StorageProvider;
  requests: () => number;
  /** Raw minimum: put new, put overwrite, get. */
  raw: [number, number, number];
  stop: () => Promise<void>;
}

async function backends(): Promise<Backend[]> {
  const out: Backend[] = [];
  const root = mkdtempSync(join(tmpdir(), 'nebula-facade-bench-'));
  let localCalls = 0;
  const metrics = new StorageMetrics();
  metrics.subscribe({ operation: () => localCalls++ });
  out.push({
    name: 'local',
    provider: new LocalStorageProvider({ directory: join(root, 'credentials'), metrics }),
    requests: () => localCalls,
    raw: [1, 1, 1],
    stop: async () => rmSync(root, { recursive: true, force: true }),
  });
  const aws = new AwsSecretsManagerEmulator();
  await aws.start();
  out.push({
    name: 'aws-secrets-manager',
    provider: new AwsSecretsManagerProvider({
      region: aws.region,
      endpoint: aws.endpoint,
      credentials: aws.credentials,
    }),
    requests: () => aws.count(),
    raw: [1, 1, 1],
    stop: () => aws.stop(),
  });
  const azure = await new AzureKeyVaultEmulator().start();
  out.push({
    name: 'azure-key-vault',
    provider: new AzureKeyVaultProvider(azure.providerOptions()),
    requests: () => azure.vault.requests.length,
    raw: [1, 1, 1],
    stop: () => azure.stop(),
  });
  const vault = new VaultEmulator();
  await vault.start();
  out.push({
    name: 'hashicorp-vault',
    provider: new HashiCorpVaultProvider({ address: vault.url, auth: { token: vault.rootToken } }),
    requests: () => vault.count(),
    raw: [2, 1, 1],
    stop: () => vault.stop(),
  });
  const kube = new KubernetesEmulator();
  await kube.start();
  const token = kube.createServiceAccount('bench', 'app');
  kube.grant('bench', 'app');
  out.push({
    name: 'kubernetes',
    provider: new KubernetesSecretsProvider({
      kubeconfigPath: kube.writeKubeconfig({ token, namespace: 'bench' }),
    }),
    requests: () => kube.secretRequests(),
    raw: [1, 1, 1],
    stop: () => kube.stop(),
  });
  return out;
}

for (const backend of await backends()) {
  const { provider } = backend;
  await provider.connect();
  const store = new CredentialStore(provider, EncryptionManager.generate());
  const encryption = EncryptionManager.generate();
  const data = encryption.encrypt(Buffer.from(VALUE));
  const perCall = async (fn: () => Promise<unknown>) => {
    const before = backend.requests();
    await fn();
    return backend.requests() - before;
  };
  const counts = [
    await perCall(() => store.put('counted', VALUE, { tags: { env: 'bench' } })),
    await perCall(() => store.put('counted', VALUE)),
    await perCall(() => store.get('counted').then((r) => r.secret.dispose())),
  ];
  let n = 0;
  const putNew = summarize(await measure(ITERATIONS, () => store.put(`new_${n++}`, VALUE), 10));
  const putOver = summarize(await measure(ITERATIONS, () => store.put('counted', VALUE), 10));
  const get = summarize(
    await measure(ITERATIONS, () => store.get('counted').then((r) => r.secret.dispose()), 10),
  );
  const providerStore = summarize(
    await measure(ITERATIONS, () => provider.store('counted', data, createMetadata()), 10),
  );
  const providerRetrieve = summarize(await measure(ITERATIONS, () => provider.retrieve('counted'), 10));
  const req = (i: number) => `${counts[i]} request(s), raw minimum ${backend.raw[i]}`;
  printTable(`${backend.name}: facade beside provider (loopback, ${ITERATIONS} each)`, [
    { label: 'facade put (new id)', summary: putNew, note: req(0) },
    { label: 'facade put (overwrite)', summary: putOver, note: req(1) },
    { label: 'provider store (overwrite)', summary: providerStore },
    { label: 'facade get', summary: get, note: req(2) },
    { label: 'provider retrieve', summary: providerRetrieve },
  ]);
  await provider.close();
  await backend.stop();
}
