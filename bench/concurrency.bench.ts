// Throughput of 32 concurrent retrieves (FC-001): per cloud provider, the raw SDK, the provider's `retrieve`
// and the facade's `get`, all with the same pool size (`maxSockets`), against the loopback emulators in this
// process. 32 workers each loop on one call until a block's calls are done; the three cases run in
// alternating blocks (order rotated each round) so load on the machine hits them alike, and the median
// ops/s of the blocks is reported with the ratio to raw (target: provider and facade >= 0.9x raw).
// Figures are printed, never asserted.
import { performance } from 'node:perf_hooks';
import { EncryptionManager } from '../src/core/crypto.js';
import { encodeCredentialDocument } from '../src/core/document.js';
import { createMetadata } from '../src/core/metadata.js';
import { CredentialStore } from '../src/core/store.js';
import { RAW_TARGETS, type RawTarget } from './raw-clients.js';

const CONCURRENCY = Number(process.env['CONCURRENCY_BENCH_WORKERS'] ?? 32);
const MAX_SOCKETS = Number(process.env['CONCURRENCY_BENCH_MAX_SOCKETS'] ?? 16);
const CALLS_PER_BLOCK = Number(process.env['CONCURRENCY_BENCH_CALLS'] ?? 1600);
const ROUNDS = Number(process.env['CONCURRENCY_BENCH_ROUNDS'] ?? 5);
const ID = 'concurrent_value';

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

async function measureTarget(target: RawTarget): Promise<void> {
  const provider = target.makeProvider();
  const store = new CredentialStore(provider, EncryptionManager.generate());
  await provider.connect();
  await store.put(ID, 'a typical 40-byte database password value');
  // What an application pays doing its own client-side encryption over the raw SDK: the same read, then
  // one AES-GCM decryption in node:crypto (the facade's own cost is what remains beyond it).
  const manager = EncryptionManager.generate();
  const sealed = manager.encrypt(Buffer.from('a typical 40-byte database password value'), Buffer.from(ID));
  const cases: Record<string, () => Promise<unknown>> = {
    'raw SDK': target.read,
    'raw SDK + AES-GCM': () => target.read().then(() => manager.decrypt(sealed, Buffer.from(ID)).fill(0)),
    'provider retrieve': () => provider.retrieve(ID),
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

// CONCURRENCY_BENCH_ONLY=vault,aws runs a subset (matched against the RAW_TARGETS names).
const only = process.env['CONCURRENCY_BENCH_ONLY']?.split(',');
for (const [name, start] of Object.entries(RAW_TARGETS)) {
  if (!only || only.some((wanted) => name.includes(wanted)))
    await measureTarget(await start(document, MAX_SOCKETS));
}
