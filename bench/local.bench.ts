// Local provider latency beside the physical floor measured in the same run on the same disk (SC-002).
// Floor for store: plain node:fs open(wx, 0600), write, fsync, close, rename, fsync of the directory, for the
// same bytes. Floor for retrieve: readFile + AES-GCM decrypt. Samples of the provider and of the floor are
// interleaved so that load from other processes hits both alike.
import { randomBytes } from 'node:crypto';
import { constants, promises as fsp, mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EncryptionManager } from '../src/core/crypto.js';
import { encodeCredentialDocument } from '../src/core/document.js';
import { createMetadata } from '../src/core/metadata.js';
import { LocalStorageProvider } from '../src/providers/local.js';
import { MemoryStorageProvider } from '../src/providers/memory.js';
import { type LatencySummary, measure, printTable, ratio, summarize } from './util.js';

const ITERATIONS = 400;
const WARMUP = 30;
const LIST_IDS = 10_000;
const root = mkdtempSync(join(tmpdir(), 'nebula-local-bench-'));

async function floorWrite(dir: string, target: string, bytes: Buffer, n: number): Promise<void> {
  const temp = join(dir, `.floor-${n}`);
  const fh = await fsp.open(temp, 'wx', 0o600);
  await fh.write(bytes, 0, bytes.length);
  await fh.sync();
  await fh.close();
  await fsp.rename(temp, target);
  const d = await fsp.open(dir, constants.O_RDONLY);
  await d.sync();
  await d.close();
}

async function pair(
  n: number,
  a: (i: number) => Promise<unknown>,
  b: (i: number) => Promise<unknown>,
): Promise<[number[], number[]]> {
  const sa: number[] = [];
  const sb: number[] = [];
  for (let i = -WARMUP; i < n; i++) {
    const t0 = performance.now();
    await a(i + WARMUP);
    const t1 = performance.now();
    await b(i + WARMUP);
    const t2 = performance.now();
    if (i >= 0) {
      sa.push(t1 - t0);
      sb.push(t2 - t1);
    }
  }
  return [sa, sb];
}

const verdict = (s: LatencySummary, floor: LatencySummary | undefined, factor: number, absMs: number) => {
  const abs = `p95 < ${absMs} ms: ${s.p95 < absMs ? 'met' : 'NOT met'}`;
  if (!floor) return abs;
  const r = s.p95 / floor.p95;
  return `${ratio(s.p95, floor.p95)} floor p95 (<= ${factor}x: ${r <= factor ? 'met' : 'NOT met'}); ${abs}`;
};

async function main(): Promise<void> {
  console.log(
    `directory: ${root} (same disk for provider and floor); ${ITERATIONS} samples after ${WARMUP} warm-up`,
  );
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(
        ' ',
      )} on ${availableParallelism()} CPUs (other processes' disk and CPU load shows in both columns)`,
  );
  const manager = EncryptionManager.generate();
  const metadata = createMetadata({ tags: { env: 'bench' } });

  for (const size of [1024, 10 * 1024]) {
    const label = `${size / 1024} KB`;
    const dir = join(root, `lat-${size}`);
    const floorDir = join(root, `floor-${size}`);
    await fsp.mkdir(floorDir, { mode: 0o700 });
    const provider = new LocalStorageProvider({ directory: dir });
    await provider.connect();
    const data = manager.encrypt(randomBytes(size));
    const bytes = Buffer.from(encodeCredentialDocument(data, metadata));
    const ids = Array.from({ length: 50 }, (_, i) => `bench_${i}`);

    const [storeP, storeF] = await pair(
      ITERATIONS,
      (i) => provider.store(ids[i % ids.length]!, data, metadata),
      (i) => floorWrite(floorDir, join(floorDir, `${ids[i % ids.length]}.enc`), bytes, i),
    );
    const [retrieveP, retrieveF] = await pair(
      ITERATIONS,
      async (i) => manager.decrypt((await provider.retrieve(ids[i % ids.length]!)).data),
      async (i) => {
        await fsp.readFile(join(floorDir, `${ids[i % ids.length]}.enc`));
        return manager.decrypt(data);
      },
    );
    const [existsP, existsF] = await pair(
      ITERATIONS,
      (i) => provider.exists(ids[i % ids.length]!),
      (i) => fsp.stat(join(floorDir, `${ids[i % ids.length]}.enc`)),
    );
    const s = {
      storeP: summarize(storeP),
      storeF: summarize(storeF),
      retrieveP: summarize(retrieveP),
      retrieveF: summarize(retrieveF),
      existsP: summarize(existsP),
      existsF: summarize(existsF),
    };
    printTable(`Local provider, ${label} credential (document ${bytes.length} bytes)`, [
      { label: `store ${label}`, summary: s.storeP, note: verdict(s.storeP, s.storeF, 1.2, 10) },
      { label: `floor write+fsync+rename+fsync dir`, summary: s.storeF },
      {
        label: `retrieve+decrypt ${label}`,
        summary: s.retrieveP,
        note: verdict(s.retrieveP, s.retrieveF, 1.5, 5),
      },
      { label: `floor readFile+decrypt`, summary: s.retrieveF },
      { label: `exists ${label}`, summary: s.existsP, note: verdict(s.existsP, undefined, 0, 1) },
      { label: `floor stat`, summary: s.existsF },
    ]);
    await provider.close();
  }

  // What every provider pays in the core (validation, deadline timer, retry loop, metrics): the memory
  // provider's latency, for reading the gaps above.
  const memory = new MemoryStorageProvider();
  const memData = manager.encrypt(randomBytes(1024));
  const coreStore = summarize(
    await measure(ITERATIONS, (i) => memory.store(`m${i % 50}`, memData, metadata)),
  );
  const coreExists = summarize(await measure(ITERATIONS, (i) => memory.exists(`m${i % 50}`)));
  printTable('core overhead per operation (memory provider, no I/O)', [
    { label: 'store (memory)', summary: coreStore },
    { label: 'exists (memory)', summary: coreExists },
  ]);

  // list of 10,000 ids: from names alone.
  const listDir = join(root, 'list');
  const lister = new LocalStorageProvider({ directory: listDir });
  const data = manager.encrypt(randomBytes(1024));
  const ids = Array.from({ length: LIST_IDS }, (_, i) => `cred_${String(i).padStart(5, '0')}`);
  let cursor = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (cursor < ids.length) await lister.store(ids[cursor++]!, data, metadata);
    }),
  );
  const old = new Date('2001-01-01T00:00:00Z');
  for (const id of ids) utimesSync(join(listDir, `${id}.enc`), old, new Date());
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const listSamples: number[] = [];
  const readdirSamples: number[] = [];
  for (let i = 0; i < 30; i++) {
    let t = performance.now();
    const listed = await lister.list();
    listSamples.push(performance.now() - t);
    if (listed.length !== LIST_IDS) throw new Error(`listed ${listed.length}`);
    t = performance.now();
    await fsp.readdir(listDir);
    readdirSamples.push(performance.now() - t);
  }
  const heapAfter = process.memoryUsage().heapUsed;
  const touched = ids.filter((id) => statSync(join(listDir, `${id}.enc`)).atimeMs !== old.getTime()).length;
  const listS = summarize(listSamples);
  printTable(`list of ${LIST_IDS} ids (30 runs)`, [
    { label: 'list', summary: listS, note: `target < 50 ms: ${listS.p95 < 50 ? 'met' : 'NOT met'} (p95)` },
    { label: 'floor readdir', summary: summarize(readdirSamples) },
  ]);
  console.log(
    `files whose access time changed during 30 lists of ${LIST_IDS}: ${touched} (0 = no credential file was read); ` +
      `heap after 30 lists: ${((heapAfter - heapBefore) / 1024 / 1024).toFixed(1)} MiB above before`,
  );

  // Throughput: 32 concurrent writers to distinct ids, beside 32 concurrent raw atomic writes.
  const tpDir = join(root, 'tp');
  const tp = new LocalStorageProvider({ directory: tpDir });
  await tp.connect();
  const floorTp = join(root, 'tp-floor');
  await fsp.mkdir(floorTp, { mode: 0o700 });
  const bytes = Buffer.from(encodeCredentialDocument(data, metadata));
  const OPS = 3200;
  const run = async (fn: (w: number, i: number) => Promise<unknown>) => {
    const t = performance.now();
    await Promise.all(
      Array.from({ length: 32 }, async (_, w) => {
        for (let i = 0; i < OPS / 32; i++) await fn(w, i);
      }),
    );
    return OPS / ((performance.now() - t) / 1000);
  };
  const provTp = await run((w, i) => tp.store(`writer_${w}_${i % 10}`, data, metadata));
  const rawTp = await run((w, i) =>
    floorWrite(floorTp, join(floorTp, `writer_${w}_${i % 10}.enc`), bytes, w * 100_000 + i),
  );
  console.log(
    `\n32 concurrent writers, distinct ids, 1 KB: ${provTp.toFixed(0)} stores/s (floor: ${rawTp.toFixed(0)} raw atomic writes/s, ${ratio(provTp, rawTp)})`,
  );
  await tp.close();
  await lister.close();
}

main()
  .finally(() => rmSync(root, { recursive: true, force: true }))
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
