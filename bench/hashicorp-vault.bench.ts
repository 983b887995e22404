import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Agent } from 'node:http';
import { createInterface } from 'node:readline';
import { createMetadata } from '../src/core/metadata.js';
import { HashiCorpVaultProvider } from '../src/providers/hashicorp-vault.js';
import { VaultEmulator } from '../src/testing/emulators/vault.js';
import { rawVaultClient } from './raw-clients.js';
import { type LatencySummary, measureInterleaved, printTable, ratio, summarize } from './util.js';

// Store and retrieve through the provider beside the same HTTP requests sent raw (same keep-alive agent
// settings, same JSON bodies), against one loopback emulator in this process.
const ITERATIONS = 1000;
const vault = new VaultEmulator();
await vault.start();
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

const raw = rawVaultClient(vault.url, vault.rootToken, agent);

const provider = new HashiCorpVaultProvider({
  address: vault.url,
  auth: { token: vault.rootToken },
});
await provider.connect();
const data = {
  version: 1,
  keyId: 'bench000',
  nonce: randomBytes(12),
  ciphertext: randomBytes(256),
  tag: randomBytes(16),
};
const metadata = createMetadata({ tags: { env: 'bench' } });
const document = {
  format: 'nebula-credential/v1',
  data: {
    version: 1,
    keyId: 'bench000',
    nonce: Buffer.from(data.nonce).toString('base64'),
    ciphertext: data.ciphertext.toString('base64'),
    tag: Buffer.from(data.tag).toString('base64'),
  },
  metadata: {
    createdAt: metadata.createdAt.toISOString(),
    lastModified: metadata.lastModified.toISOString(),
    tags: metadata.tags,
  },
};
const custom = {
  env: 'bench',
  'nebula:created': metadata.createdAt.toISOString(),
  'nebula:rotation': 'none',
};

/** The two cases alternated sample by sample after the shared warm-up (see `measureInterleaved`). */
async function paired(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number[], number[]]> {
  const [sa, sb] = await measureInterleaved(ITERATIONS, [a, b], 300);
  return [sa!, sb!];
}

/**
 * Store (an overwrite whose tags do not change: the data write alone, since the provider writes the metadata
 * only when it must change, after one metadata write that sets it up) and retrieve, raw beside the provider,
 * printed as one table.
 */
async function compare(
  title: string,
  rawClient: ReturnType<typeof rawVaultClient>,
  ours: HashiCorpVaultProvider,
): Promise<void> {
  await rawClient('POST', 'secret/metadata/raw/bench', { custom_metadata: custom });
  const [rawStore, ourStore] = (
    await paired(
      () => rawClient('POST', 'secret/data/raw/bench', { data: document }),
      () => ours.store('bench', data, metadata),
    )
  ).map(summarize) as [LatencySummary, LatencySummary];
  const [rawGet, ourGet] = (
    await paired(
      () => rawClient('GET', 'secret/data/raw/bench'),
      () => ours.retrieve('bench'),
    )
  ).map(summarize) as [LatencySummary, LatencySummary];
  printTable(title, [
    { label: 'raw store (overwrite, 1 request)', summary: rawStore },
    { label: 'provider store', summary: ourStore, note: `p50 ${ratio(ourStore.p50, rawStore.p50)} of raw` },
    { label: 'raw retrieve', summary: rawGet },
    { label: 'provider retrieve', summary: ourGet, note: `p50 ${ratio(ourGet.p50, rawGet.p50)} of raw` },
  ]);
}

await compare(
  `hashicorp-vault vs raw HTTP (loopback emulator, 256-byte ciphertext, ${ITERATIONS} each)`,
  raw,
  provider,
);

// The same comparison with the emulator in a process of its own (the command's `emulator vault`), as a real
// Vault server is: in this process its request handling shares one thread with both clients, and evicts
// their code from the CPU caches between calls.
{
  const child = spawn(
    process.execPath,
    [new URL('../../dist/cli/main.js', import.meta.url).pathname, 'emulator', 'vault', '--http'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const info = JSON.parse(line) as { endpoint: string; token: string };
  const remoteAgent = new Agent({ keepAlive: true, maxSockets: 16 });
  const remote = new HashiCorpVaultProvider({ address: info.endpoint, auth: { token: info.token } });
  await remote.connect();
  await compare(
    `hashicorp-vault vs raw HTTP, the emulator in its own process (${ITERATIONS} each)`,
    rawVaultClient(info.endpoint, info.token, remoteAgent),
    remote,
  );
  await remote.close();
  remoteAgent.destroy();
  child.kill('SIGTERM');
  await once(child, 'exit');
}

// Connection reuse: a fresh provider, 1,000 sequential retrieves, count TCP connections the emulator accepted.
for (const tls of [false, true]) {
  const v = new VaultEmulator({ tls });
  await v.start();
  const p = new HashiCorpVaultProvider({
    address: v.url,
    auth: { token: v.rootToken },
    ...(tls ? { tls: { ca: v.caCertPem! } } : {}),
  });
  await p.store('reuse', data, metadata);
  const before = v.connections;
  for (let i = 0; i < 1000; i++) await p.retrieve('reuse');
  console.log(
    `\n1,000 sequential retrieves over ${tls ? 'https' : 'http'}: ${v.connections - before} new TCP connections (${v.connections} in total, connect and store included)`,
  );
  await p.close();
  await v.stop();
}

await provider.close();
agent.destroy();
await vault.stop();
