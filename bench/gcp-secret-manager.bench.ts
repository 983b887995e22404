// Store and retrieve through the provider beside the same calls made with the bare SDK client (retries off,
// as the provider runs it), against the loopback emulator in the same run, over gRPC and over REST, so the
// difference is the provider's own overhead (validation, document encoding, CRC32C, the operation runner,
// the token check). Also reports the requests each provider call made.
import { randomBytes } from 'node:crypto';
import { crc32c } from '../src/core/crc32c.js';
import type { EncryptedData } from '../src/core/crypto.js';
import { encodeCredentialDocument } from '../src/core/document.js';
import { createMetadata } from '../src/core/metadata.js';
import { GcpSecretManagerProvider } from '../src/providers/gcp-secret-manager.js';
import { GcpSecretManagerEmulator } from '../src/testing/emulators/gcp.js';
import { sdkClient, serviceAccountAuth } from '../test/unit/gcp-helpers.js';
import { type LatencySummary, measureInterleaved, printTable, ratio, summarize } from './util.js';

const ITERATIONS = 300;
const WARMUP = 30;
const NO_RETRY = { retry: { retryCodes: [] } };

async function runFor(transport: 'grpc' | 'rest'): Promise<void> {
  const emulator = new GcpSecretManagerEmulator();
  await emulator.start();
  const provider = new GcpSecretManagerProvider({ ...emulator.providerOptions(transport), prefix: 'p_' });
  await provider.connect();
  const raw = sdkClient(emulator, await serviceAccountAuth(emulator, 'token-endpoint'), transport);
  const data: EncryptedData = {
    version: 1,
    keyId: 'bench0000000000',
    nonce: randomBytes(12),
    ciphertext: randomBytes(1024),
    tag: randomBytes(16),
  };
  const metadata = createMetadata({ tags: { env: 'bench', team: 'platform' } });
  const document = Buffer.from(encodeCredentialDocument(data, metadata));
  const payload = { data: document, dataCrc32c: crc32c(document) };
  const parent = `projects/${emulator.projectId}`;
  await provider.store('bench_value', data, metadata);
  await raw.createSecret(
    { parent, secretId: 'raw_bench', secret: { replication: { automatic: {} } } },
    NO_RETRY,
  );
  const rawName = `${parent}/secrets/raw_bench`;
  await raw.addSecretVersion({ parent: rawName, payload }, NO_RETRY);

  const interleave = async (...fns: ((i: number) => Promise<unknown>)[]) =>
    (await measureInterleaved(ITERATIONS, fns, WARMUP)).map(summarize) as LatencySummary[];
  const perCall = async (fn: () => Promise<unknown>) => {
    const before = emulator.count();
    await fn();
    return emulator.count() - before;
  };
  const requests = {
    storeExisting: await perCall(() => provider.store('bench_value', data, metadata)),
    storeNew: await perCall(() => provider.store('bench_fresh', data, metadata)),
    retrieve: await perCall(() => provider.retrieve('bench_value')),
    exists: await perCall(() => provider.exists('bench_value')),
    list: await perCall(() => provider.list({ tags: { env: 'bench' } })),
    delete: await perCall(() => provider.delete('bench_fresh')),
  };
  const [storeProvider, storeRaw] = await interleave(
    () => provider.store('bench_value', data, metadata),
    () => raw.addSecretVersion({ parent: rawName, payload }, NO_RETRY),
  );
  const [getProvider, getRaw] = await interleave(
    () => provider.retrieve('bench_value'),
    () => raw.accessSecretVersion({ name: `${rawName}/versions/latest` }, NO_RETRY),
  );
  printTable(
    `GCP Secret Manager emulator over ${transport} (1 KiB ciphertext, ${ITERATIONS} iterations; target: provider <= 1.10x raw at p50)`,
    [
      {
        label: 'store (existing) provider',
        summary: storeProvider!,
        note: `${ratio(storeProvider!.p50, storeRaw!.p50)} of raw at p50`,
      },
      { label: 'store raw SDK', summary: storeRaw!, note: 'AddSecretVersion' },
      {
        label: 'retrieve provider',
        summary: getProvider!,
        note: `${ratio(getProvider!.p50, getRaw!.p50)} of raw at p50`,
      },
      { label: 'retrieve raw SDK', summary: getRaw!, note: 'AccessSecretVersion latest' },
    ],
  );
  console.log(`requests per provider call: ${JSON.stringify(requests)}`);
  await provider.close();
  await raw.close();
  await emulator.stop();
}

await runFor('grpc');
await runFor('rest');
