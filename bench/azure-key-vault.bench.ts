// Azure Key Vault provider against the loopback emulator, beside raw @azure/keyvault-secrets calls made in
// the same run over the same https connection setup, and the time from connect() to a first result with
// managed identity (App Service style endpoint).
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { encodeCredentialDocument } from '../src/core/document.js';
import { createMetadata } from '../src/core/metadata.js';
import { AzureKeyVaultProvider } from '../src/providers/azure-key-vault.js';
import { AzureKeyVaultEmulator } from '../src/testing/emulators/azure.js';
import { measure, printTable, ratio, summarize } from './util.js';

const ITERATIONS = 1000;
const ROUNDS = 10;
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
  vaultUrl: emulator.vaultUrl,
  credential: {
    type: 'client-secret',
    tenantId: emulator.tenantId,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
  },
  authorityHost: emulator.authorityHost,
  caCertPath: emulator.caCertPath,
});
await provider.connect();

const credential = new ClientSecretCredential(emulator.tenantId, emulator.clientId, emulator.clientSecret, {
  authorityHost: emulator.authorityHost,
  disableInstanceDiscovery: true,
  tlsOptions: { ca: emulator.ca.caCertPem },
  retryOptions: { maxRetries: 0 },
});
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

// Warm both paths up (JIT, TLS session, token) before measuring.
for (let i = 0; i < 300; i++) {
  await raw.setSecret(`raw-${i % 20}`, value, rawOptions);
  await provider.store(`ours_${i % 20}`, data, metadata);
  await raw.getSecret(`raw-${i % 20}`);
  await provider.retrieve(`ours_${i % 20}`);
}
// Interleave the two so drift in the machine's load hits both alike.
async function compare(title: string, iterations: number, rounds: number): Promise<void> {
  const rawStore: number[] = [];
  const ourStore: number[] = [];
  const rawGet: number[] = [];
  const ourGet: number[] = [];
  const n = iterations / rounds;
  for (let round = 0; round < rounds; round++) {
    rawStore.push(...(await measure(n, (i) => raw.setSecret(`raw-${i % 20}`, value, rawOptions), 0)));
    ourStore.push(...(await measure(n, (i) => provider.store(`ours_${i % 20}`, data, metadata), 0)));
    rawGet.push(...(await measure(n, (i) => raw.getSecret(`raw-${i % 20}`), 0)));
    ourGet.push(...(await measure(n, (i) => provider.retrieve(`ours_${i % 20}`), 0)));
  }
  const s = {
    rawStore: summarize(rawStore),
    ourStore: summarize(ourStore),
    rawGet: summarize(rawGet),
    ourGet: summarize(ourGet),
  };
  printTable(title, [
    { label: 'raw SDK setSecret', summary: s.rawStore },
    {
      label: 'provider.store',
      summary: s.ourStore,
      note: `p50 ${ratio(s.ourStore.p50, s.rawStore.p50)} of raw (+${(s.ourStore.p50 - s.rawStore.p50).toFixed(3)} ms; target <= 1.10x)`,
    },
    { label: 'raw SDK getSecret', summary: s.rawGet },
    {
      label: 'provider.retrieve',
      summary: s.ourGet,
      note: `p50 ${ratio(s.ourGet.p50, s.rawGet.p50)} of raw (+${(s.ourGet.p50 - s.rawGet.p50).toFixed(3)} ms; target <= 1.10x)`,
    },
  ]);
}
await compare(
  'Azure Key Vault (emulator, https loopback, no added latency, 1 KiB ciphertext)',
  ITERATIONS,
  ROUNDS,
);
// A real vault answers in milliseconds, not tens of microseconds: the same comparison with 5 ms per request.
emulator.vault.faults.add({ action: { kind: 'delay', ms: 5 }, times: Number.POSITIVE_INFINITY });
await compare('Azure Key Vault (emulator with 5 ms service latency per request)', 200, 4);
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
  const p = new AzureKeyVaultProvider({ vaultUrl: mi.vaultUrl, caCertPath: mi.caCertPath });
  await p.connect();
  await p.retrieve('first');
  firstResult.push(performance.now() - started);
  await p.close();
}
printTable('Managed identity: new provider, connect() to first retrieve result', [
  { label: 'first in process (SDK load)', summary: summarize(firstResult.slice(0, 1)) },
  { label: 'later providers', summary: summarize(firstResult.slice(1)) },
]);
await mi.stop();
await emulator.stop();
