// Azure Key Vault provider against the loopback emulator, beside raw @azure/keyvault-secrets calls made in
// the same run over the same https connection setup, and the time from connect() to a first result with
// managed identity (App Service style endpoint).
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SecretClient } from '@azure/keyvault-secrets';
import { encodeCredentialDocument } from '../src/core/document.js';
import { createMetadata } from '../src/core/metadata.js';
import { AzureKeyVaultProvider } from '../src/providers/azure-key-vault.js';
import { AzureKeyVaultEmulator } from '../src/testing/emulators/azure.js';
import { rawAzureCredential } from './raw-clients.js';
import { measureInterleaved, printTable, ratio, summarize } from './util.js';

const ITERATIONS = 1000;
const emulator = await new AzureKeyVaultEmulator().start();
const data = {
  version: 1,
  keyId: 'bench',
  nonce: randomBytes(12),
  ciphertext: randomBytes(1024),
  tag: randomBytes(16),
};
const metadata = createMetadata({ tags: { env: 'bench', team: 'platform' } });

const provider = new AzureKeyVaultProvider({
  ...emulator.providerOptions(),
});
await provider.connect();

const credential = rawAzureCredential(emulator);
const raw = new SecretClient(emulator.vaultUrl, credential, {
  tlsOptions: { ca: emulator.ca.caCertPem },
  retryOptions: { maxRetries: 0 },
  disableChallengeResourceVerification: true,
});
const value = encodeCredentialDocument(data, metadata);
const rawOptions = {
  contentType: `application/vnd.nebula-credential.v1+json; created=${metadata.createdAt.toISOString()}`,
  tags: metadata.tags,
};

// Interleaved per iteration so drift in the machine's load hits every column alike. The "+ signal" columns
// pass a deadline signal as the provider must (the SDK's abort handling has a cost of its own).
async function compare(title: string, iterations: number, warmupRounds: number): Promise<void> {
  const cases: Record<string, (i: number) => Promise<unknown>> = {
    'raw SDK setSecret': (i) => raw.setSecret(`raw-${i % 20}`, value, rawOptions),
    'raw SDK setSecret + signal': (i) =>
      raw.setSecret(`raw-${i % 20}`, value, { ...rawOptions, abortSignal: AbortSignal.timeout(10_000) }),
    'provider.store': (i) => provider.store(`ours_${i % 20}`, data, metadata),
    'raw SDK getSecret': (i) => raw.getSecret(`raw-${i % 20}`),
    'raw SDK getSecret + signal': (i) =>
      raw.getSecret(`raw-${i % 20}`, { abortSignal: AbortSignal.timeout(5_000) }),
    'provider.retrieve': (i) => provider.retrieve(`ours_${i % 20}`),
  };
  // Warm-up (JIT, TLS session, token) and samples as every comparison here takes them (`measureInterleaved`).
  const measured = await measureInterleaved(iterations, Object.values(cases), warmupRounds);
  const samples = Object.fromEntries(Object.keys(cases).map((label, k) => [label, measured[k]!]));
  const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
  const vs = (ours: string, base: string) => {
    const a = s[ours]!.p50;
    const b = s[base]!.p50;
    return `${ratio(a, b)} of ${base} at p50 (+${(a - b).toFixed(3)} ms)`;
  };
  const row = (label: string, note?: string) => ({ label, summary: s[label]!, ...(note ? { note } : {}) });
  printTable(`${title} (target: provider <= 1.10x raw at p50)`, [
    row('raw SDK setSecret'),
    row('raw SDK setSecret + signal'),
    row('provider.store', vs('provider.store', 'raw SDK setSecret')),
    row('raw SDK getSecret'),
    row('raw SDK getSecret + signal'),
    row('provider.retrieve', vs('provider.retrieve', 'raw SDK getSecret')),
  ]);
}
await compare(
  'Azure Key Vault emulator, https loopback, no added latency, 1 KiB ciphertext',
  ITERATIONS,
  300,
);
// A real vault answers in milliseconds, not tens of microseconds: the same comparison with 5 ms per request.
emulator.vault.faults.add({ action: { kind: 'delay', ms: 5 }, times: Number.POSITIVE_INFINITY });
await compare('Azure Key Vault emulator with 5 ms service latency per request', 200, 20);
emulator.vault.faults.clear();
await provider.close();

// Managed identity: connect() and the first retrieve, each with a fresh provider (fresh credential).
const mi = await new AzureKeyVaultEmulator({ tokenLifetimeSeconds: 240 }).start();
Object.assign(process.env, mi.appServiceEnvironment());
mi.seedSecret('first', encodeCredentialDocument(data, metadata), {
  contentType: 'application/vnd.nebula-credential.v1+json',
});
const firstResult: number[] = [];
for (let i = 0; i < 20; i++) {
  const started = performance.now();
  const p = new AzureKeyVaultProvider({ vaultUrl: mi.vaultUrl, tls: { caFile: mi.caCertPath } });
  await p.connect();
  await p.retrieve('first');
  firstResult.push(performance.now() - started);
  await p.close();
}
printTable('Managed identity: new provider, connect() to first retrieve result', [
  { label: 'first provider in process', summary: summarize(firstResult.slice(0, 1)) },
  { label: 'later providers', summary: summarize(firstResult.slice(1)) },
]);
await mi.stop();
await emulator.stop();
