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
import { GcpSecretManagerProvider } from '../src/providers/gcp-secret-manager.js';
import { HashiCorpVaultProvider } from '../src/providers/hashicorp-vault.js';
import { KubernetesSecretsProvider } from '../src/providers/kubernetes-secrets.js';
import { LocalStorageProvider } from '../src/providers/local.js';
import { AwsSecretsManagerEmulator } from '../src/testing/emulators/aws.js';
import { AzureKeyVaultEmulator } from '../src/testing/emulators/azure.js';
import { GcpSecretManagerEmulator } from '../src/testing/emulators/gcp.js';
import { KubernetesEmulator } from '../src/testing/emulators/kubernetes.js';
import { VaultEmulator } from '../src/testing/emulators/vault.js';
import { type LatencySummary, measure, measureInterleaved, printTable, summarize } from './util.js';

// What a user pays: the facade calls (put of a new id, put over an existing one, get) beside the provider
// calls, and the requests each backend received per call beside the raw minimum. The raw SDK figures are in
// each provider's own bench. Figures are printed, never asserted (the conformance suite asserts the counts).
const ITERATIONS = Number(process.env.FACADE_BENCH_ITERATIONS ?? 300);
const VALUE = 'x'.repeat(256);

interface Backend {
  name: string;
  /** A provider on the backend; called again for a fresh process's provider (nothing remembered). */
  make: () => StorageProvider;
  requests: () => number;
  /** Raw minimum: put new, put overwrite, get, put overwrite from a fresh process, create of a new id. */
  raw: [number, number, number, number, number];
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
    make: () => new LocalStorageProvider({ directory: join(root, 'credentials'), metrics }),
    requests: () => localCalls,
    raw: [1, 1, 1, 1, 1],
    stop: async () => rmSync(root, { recursive: true, force: true }),
  });
  const aws = new AwsSecretsManagerEmulator();
  await aws.start();
  out.push({
    name: 'aws-secrets-manager',
    make: () =>
      new AwsSecretsManagerProvider({
        region: aws.region,
        endpoint: aws.endpoint,
        credentials: aws.credentials,
      }),
    requests: () => aws.count(),
    raw: [1, 1, 1, 1, 1],
    stop: () => aws.stop(),
  });
  const azure = await new AzureKeyVaultEmulator().start();
  out.push({
    name: 'azure-key-vault',
    make: () => new AzureKeyVaultProvider(azure.providerOptions()),
    requests: () => azure.vault.requests.length,
    // Tags live on each version: an overwrite keeping them must read them first. setSecret has no
    // create-only form: a create that must not overwrite reads first.
    raw: [1, 1, 1, 2, 2],
    stop: () => azure.stop(),
  });
  const vault = new VaultEmulator();
  await vault.start();
  out.push({
    name: 'hashicorp-vault',
    make: () => new HashiCorpVaultProvider({ address: vault.url, auth: { token: vault.rootToken } }),
    requests: () => vault.count(),
    raw: [2, 1, 1, 1, 2],
    stop: () => vault.stop(),
  });
  const kube = new KubernetesEmulator();
  await kube.start();
  const token = kube.createServiceAccount('bench', 'app');
  kube.grant('bench', 'app');
  const kubeconfigPath = kube.writeKubeconfig({ token, namespace: 'bench' });
  out.push({
    name: 'kubernetes',
    make: () => new KubernetesSecretsProvider({ kubeconfigPath }),
    requests: () => kube.secretRequests(),
    raw: [1, 1, 1, 1, 1],
    stop: () => kube.stop(),
  });
  const gcp = new GcpSecretManagerEmulator();
  await gcp.start();
  out.push({
    name: 'gcp-secret-manager (gRPC)',
    make: () => new GcpSecretManagerProvider(gcp.providerOptions('grpc')),
    requests: () => gcp.count(),
    // CreateSecret then AddSecretVersion: a secret and its first version are two calls.
    raw: [2, 1, 1, 1, 2],
    stop: () => gcp.stop(),
  });
  return out;
}

for (const backend of await backends()) {
  const provider = backend.make();
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
  const fresh = backend.make();
  await fresh.connect();
  counts.push(
    await perCall(() => new CredentialStore(fresh, EncryptionManager.generate()).put('counted', VALUE)),
  );
  counts.push(
    await perCall(() => new CredentialStore(fresh, EncryptionManager.generate()).create('created', VALUE)),
  );
  await fresh.close();
  let n = 0;
  const putNew = summarize(await measure(ITERATIONS, () => store.put(`new_${n++}`, VALUE), 10));
  const createNew = summarize(await measure(ITERATIONS, () => store.create(`created_${n++}`, VALUE), 10));
  await provider.store('counted_p', data, createMetadata());
  // Facade and provider calls alternate, so the difference is the facade's own work (encryption included).
  const [putOver, providerStore] = (
    await measureInterleaved(
      ITERATIONS,
      [() => store.put('counted', VALUE), () => provider.store('counted_p', data, createMetadata())],
      10,
    )
  ).map(summarize) as [LatencySummary, LatencySummary];
  const [get, providerRetrieve] = (
    await measureInterleaved(
      ITERATIONS,
      [() => store.get('counted').then((r) => r.secret.dispose()), () => provider.retrieve('counted_p')],
      10,
    )
  ).map(summarize) as [LatencySummary, LatencySummary];
  const req = (i: number) => `${counts[i]} request(s), raw minimum ${backend.raw[i]}`;
  printTable(`${backend.name}: facade beside provider (loopback, ${ITERATIONS} each)`, [
    { label: 'facade put (new id)', summary: putNew, note: req(0) },
    { label: 'facade create (new id)', summary: createNew, note: req(4) },
    { label: 'facade put (overwrite)', summary: putOver, note: req(1) },
    { label: 'provider store (overwrite)', summary: providerStore },
    { label: 'facade get', summary: get, note: req(2) },
    { label: 'provider retrieve', summary: providerRetrieve },
  ]);
  console.log(`facade put (overwrite) from a fresh process: ${req(3)}`);
  await provider.close();
  await backend.stop();
}
