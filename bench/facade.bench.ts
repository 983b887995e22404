import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EncryptionManager } from '../src/core/crypto.js';
import { encodeCredentialDocument } from '../src/core/document.js';
import { createMetadata } from '../src/core/metadata.js';
import { StorageMetrics } from '../src/core/metrics.js';
import type { StorageProvider } from '../src/core/provider.js';
import { CredentialStore } from '../src/core/store.js';
import { LocalStorageProvider } from '../src/providers/local.js';
import { RAW_TARGETS } from './raw-clients.js';
import { type LatencySummary, measure, measureInterleaved, printTable, ratio, summarize } from './util.js';

// What a user pays: the facade calls (put of a new id, put over an existing one, get) beside the provider
// calls and the raw SDK's own write and read of a document of the same size (the same clients as the
// concurrency bench, bench/raw-clients.ts), and the requests each backend received per call beside the raw
// minimum. Figures are printed, never asserted (the conformance suite asserts the counts). The local
// store's floor (the durable write and read alone) is in bench/local.bench.ts.
const ITERATIONS = Number(process.env.FACADE_BENCH_ITERATIONS ?? 300);
const VALUE = 'x'.repeat(256);
const DATA = EncryptionManager.generate().encrypt(Buffer.from(VALUE));

interface Backend {
  name: string;
  /** A provider on the backend; called again for a fresh process's provider (nothing remembered). */
  make: () => StorageProvider;
  requests: () => number;
  /** Raw minimum: put new, put overwrite, get, put overwrite from a fresh process, create of a new id. */
  raw: [number, number, number, number, number];
  /** The raw SDK's overwrite and read of one secret (none for the local store). */
  rawWrite?: () => Promise<unknown>;
  rawRead?: () => Promise<unknown>;
  stop: () => Promise<void>;
}

/** Raw minimum requests per backend, in `Backend.raw` order. */
const RAW_MINIMUM: Record<string, Backend['raw']> = {
  aws: [1, 1, 1, 1, 1],
  // Tags live on each version: an overwrite keeping them must read them first. setSecret has no
  // create-only form: a create that must not overwrite reads first.
  azure: [1, 1, 1, 2, 2],
  // CreateSecret then AddSecretVersion: a secret and its first version are two calls.
  gcp: [2, 1, 1, 1, 2],
  // The data write plus the metadata write (custom_metadata) for a new key.
  vault: [2, 1, 1, 1, 2],
  kubernetes: [1, 1, 1, 1, 1],
};

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
  const document = encodeCredentialDocument(DATA, createMetadata());
  for (const [key, start] of Object.entries(RAW_TARGETS)) {
    const target = await start(document, 16);
    out.push({
      name: target.name,
      make: target.makeProvider,
      requests: target.requests,
      raw: RAW_MINIMUM[key]!,
      rawWrite: target.write,
      rawRead: target.read,
      stop: target.stop,
    });
  }
  return out;
}

for (const backend of await backends()) {
  const provider = backend.make();
  await provider.connect();
  const store = new CredentialStore(provider, EncryptionManager.generate());
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
  await provider.store('counted_p', DATA, createMetadata());
  // Facade, provider and raw calls alternate, so the differences are each layer's own work (the facade's
  // encryption included).
  const writes: (() => Promise<unknown>)[] = [
    () => store.put('counted', VALUE),
    () => provider.store('counted_p', DATA, createMetadata()),
  ];
  const reads: (() => Promise<unknown>)[] = [
    () => store.get('counted').then((r) => r.secret.dispose()),
    () => provider.retrieve('counted_p'),
  ];
  if (backend.rawWrite && backend.rawRead) {
    writes.push(backend.rawWrite);
    reads.push(backend.rawRead);
  }
  const [putOver, providerStore, rawWrite] = (await measureInterleaved(ITERATIONS, writes, 10)).map(
    summarize,
  ) as [LatencySummary, LatencySummary, LatencySummary?];
  const [get, providerRetrieve, rawRead] = (await measureInterleaved(ITERATIONS, reads, 10)).map(
    summarize,
  ) as [LatencySummary, LatencySummary, LatencySummary?];
  const req = (i: number) => `${counts[i]} request(s), raw minimum ${backend.raw[i]}`;
  const ofRaw = (s: LatencySummary, raw: LatencySummary | undefined) =>
    raw ? `; ${ratio(s.p50, raw.p50)} of raw at p50 (target <= 1.10x)` : '';
  printTable(`${backend.name}: facade beside provider and raw SDK (loopback, ${ITERATIONS} each)`, [
    { label: 'facade put (new id)', summary: putNew, note: req(0) },
    { label: 'facade create (new id)', summary: createNew, note: req(4) },
    { label: 'facade put (overwrite)', summary: putOver, note: req(1) + ofRaw(putOver, rawWrite) },
    {
      label: 'provider store (overwrite)',
      summary: providerStore,
      note: ofRaw(providerStore, rawWrite).slice(2),
    },
    ...(rawWrite ? [{ label: 'raw SDK write (overwrite)', summary: rawWrite }] : []),
    { label: 'facade get', summary: get, note: req(2) + ofRaw(get, rawRead) },
    {
      label: 'provider retrieve',
      summary: providerRetrieve,
      note: ofRaw(providerRetrieve, rawRead).slice(2),
    },
    ...(rawRead ? [{ label: 'raw SDK read', summary: rawRead }] : []),
  ]);
  console.log(`facade put (overwrite) from a fresh process: ${req(3)}`);
  await provider.close();
  await backend.stop();
}
