// The read path: a cached get (decrypt included; target at most 10 µs p50 for 1 KB), 1,000 concurrent gets
// of one cold id (target: exactly 1 backend request) on every provider, watch detection latency beside the
// poll interval, and getMany of 100 ids beside 100 sequential gets on each cloud emulator. Prints figures;
// asserts nothing.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EncryptionManager } from '../src/core/crypto.js';
import { StorageMetrics } from '../src/core/metrics.js';
import type { StorageProvider } from '../src/core/provider.js';
import { CredentialStore } from '../src/core/store.js';
import { AwsSecretsManagerProvider } from '../src/providers/aws-secrets-manager.js';
import { AzureKeyVaultProvider } from '../src/providers/azure-key-vault.js';
import { HashiCorpVaultProvider } from '../src/providers/hashicorp-vault.js';
import { KubernetesSecretsProvider } from '../src/providers/kubernetes-secrets.js';
import { LocalStorageProvider } from '../src/providers/local.js';
import { MemoryStorageProvider } from '../src/providers/memory.js';
import { AwsSecretsManagerEmulator } from '../src/testing/emulators/aws.js';
import { AzureKeyVaultEmulator } from '../src/testing/emulators/azure.js';
import { KubernetesEmulator } from '../src/testing/emulators/kubernetes.js';
import { VaultEmulator } from '../src/testing/emulators/vault.js';
import { measure, printTable, ratio, summarize } from './util.js';

interface Backend {
  label: string;
  cloud: boolean;
  provider: StorageProvider;
  /** Backend requests so far. */
  requests: () => number;
  /** Adds `ms` to every request from now on (the emulator's delay fault), as a network round trip would. */
  delay?: (ms: number) => () => void;
  stop: () => Promise<void>;
}

/** A delay fault on every request until the returned function removes it. */
const delayEvery = (faults: { add(f: object): void; clear(): void }) => (ms: number) => {
  faults.add({ action: { kind: 'delay', ms }, times: Number.POSITIVE_INFINITY });
  return () => faults.clear();
};

async function backends(): Promise<Backend[]> {
  const out: Backend[] = [];
  const memory = new MemoryStorageProvider();
  out.push({
    label: 'memory',
    cloud: false,
    provider: memory,
    requests: () => Object.values(memory.calls).reduce((a, b) => a + b, 0),
    stop: async () => {},
  });
  const dir = mkdtempSync(join(tmpdir(), 'nebula-bench-read-'));
  let localOps = 0;
  const localMetrics = new StorageMetrics();
  localMetrics.subscribe({ operation: () => localOps++ });
  out.push({
    label: 'local',
    cloud: false,
    provider: new LocalStorageProvider({ directory: join(dir, 'store'), metrics: localMetrics }),
    requests: () => localOps,
    stop: async () => rmSync(dir, { recursive: true, force: true }),
  });
  const aws = new AwsSecretsManagerEmulator({ tls: true });
  await aws.start();
  out.push({
    label: 'aws (emulator, https)',
    cloud: true,
    provider: new AwsSecretsManagerProvider({
      region: aws.region,
      endpoint: aws.endpoint,
      credentials: aws.credentials,
      tls: { caFile: aws.caCertPath! },
    }),
    requests: () => aws.count(),
    delay: delayEvery(aws.faults),
    stop: () => aws.stop(),
  });
  const azure = await new AzureKeyVaultEmulator().start();
  out.push({
    label: 'azure (emulator, https)',
    cloud: true,
    provider: new AzureKeyVaultProvider(azure.providerOptions()),
    requests: () => azure.vault.requests.length,
    delay: delayEvery(azure.vault.faults),
    stop: () => azure.stop(),
  });
  const vault = new VaultEmulator({ tls: true });
  await vault.start();
  out.push({
    label: 'vault (emulator, https)',
    cloud: true,
    provider: new HashiCorpVaultProvider({
      address: vault.url,
      auth: { token: vault.rootToken },
      tls: { ca: vault.caCertPem! },
    }),
    requests: () => vault.count(),
    delay: delayEvery(vault.faults),
    stop: () => vault.stop(),
  });
  const k8s = new KubernetesEmulator();
  await k8s.start();
  const token = k8s.createServiceAccount('bench', 'app');
  k8s.grant('bench', 'app');
  out.push({
    label: 'kubernetes (emulator, https)',
    cloud: true,
    provider: new KubernetesSecretsProvider({
      kubeconfigPath: k8s.writeKubeconfig({ token, namespace: 'bench' }),
      listPageSize: 200,
    }),
    requests: () => k8s.secretRequests(),
    delay: delayEvery(k8s.faults),
    stop: () => k8s.stop(),
  });
  for (const b of out) await b.provider.connect();
  return out;
}

const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

async function cachedGet(): Promise<void> {
  const key = EncryptionManager.generate();
  const provider = new MemoryStorageProvider();
  const cached = new CredentialStore(provider, key, { cache: { ttlMs: 3_600_000 } });
  const direct = new CredentialStore(provider, key);
  const value = randomBytes(1024).toString('base64').slice(0, 1024);
  await cached.put('one_kb', value);
  const run = async (store: CredentialStore) =>
    summarize(
      await measure(
        100_000,
        async () => {
          const { secret } = await store.get('one_kb');
          secret.dispose();
        },
        2_000,
      ),
    );
  // Alternate rounds so drift in machine load hits both sides alike.
  const rounds = { cached: [] as number[], direct: [] as number[] };
  for (let i = 0; i < 3; i++) {
    rounds.cached.push((await run(cached)).p50);
    rounds.direct.push((await run(direct)).p50);
  }
  const best = (xs: number[]) => Math.min(...xs);
  const c = summarize(
    await measure(100_000, async () => (await cached.get('one_kb')).secret.dispose(), 2_000),
  );
  printTable('cached get of a 1 KB credential (memory provider; decrypt included)', [
    {
      label: 'get, cache hit',
      summary: c,
      note: `p50 ${us(c.p50)} (best round ${us(best(rounds.cached))}); target ≤ 10 µs`,
    },
    {
      label: 'get, no cache',
      summary: summarize(
        await measure(20_000, async () => (await direct.get('one_kb')).secret.dispose(), 1_000),
      ),
      note: `best round p50 ${us(best(rounds.direct))}`,
    },
  ]);
}

async function coldStampede(list: Backend[]): Promise<void> {
  const key = EncryptionManager.generate();
  console.log('\n1,000 concurrent gets of one cold id');
  console.log(`${'provider'.padEnd(30)}  ${'backend requests'.padStart(16)}  ${'wall ms'.padStart(9)}`);
  for (const b of list) {
    const writer = new CredentialStore(b.provider, key);
    await writer.put('stampede', 'cold value');
    const reader = new CredentialStore(b.provider, key, { cache: { ttlMs: 60_000 } });
    const before = b.requests();
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: 1000 }, () => reader.get('stampede')));
    const wall = performance.now() - t0;
    for (const r of results) r.secret.dispose();
    console.log(
      `${b.label.padEnd(30)}  ${String(b.requests() - before).padStart(16)}  ${wall.toFixed(1).padStart(9)}`,
    );
  }
}

async function watchLatency(list: Backend[]): Promise<void> {
  const key = EncryptionManager.generate();
  const interval = 200;
  const samples = 8;
  console.log(
    `\nwatch detection latency (poll interval ${interval} ms, jitter ±10%; ${samples} changes each)`,
  );
  console.log('(from the start of the write to the listener; a put itself takes the "put ms" shown)');
  console.log(
    `${'provider'.padEnd(30)}  ${'p50 ms'.padStart(8)}  ${'max ms'.padStart(8)}  ${'put ms'.padStart(8)}  ${'req/interval'.padStart(12)}  signal`,
  );
  for (const b of list) {
    const store = new CredentialStore(b.provider, key);
    await store.put('watched', 'v0');
    let arrived: (() => void) | undefined;
    const watch = store.watch(
      'watched',
      () => {
        arrived?.();
      },
      { intervalMs: interval },
    );
    await watch.ready;
    const latencies: number[] = [];
    const puts: number[] = [];
    for (let i = 1; i <= samples; i++) {
      // Change at a random point of the interval, as real writes do.
      await new Promise((r) => setTimeout(r, Math.random() * interval));
      const seen = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      const t0 = performance.now();
      await store.put('watched', `v${i}`);
      puts.push(performance.now() - t0);
      await seen;
      latencies.push(performance.now() - t0);
    }
    const idleStart = b.requests();
    await new Promise((r) => setTimeout(r, interval * 5));
    const perPoll = (b.requests() - idleStart) / 5;
    await watch.close();
    const s = summarize(latencies);
    const signal = b.label.startsWith('kubernetes')
      ? 'watch API stream'
      : b.label === 'local'
        ? 'fs events + mtime poll'
        : 'poll';
    const cells = [s.p50, Math.max(...latencies), summarize(puts).p50].map((v) => v.toFixed(1).padStart(8));
    console.log(`${b.label.padEnd(30)}  ${cells.join('  ')}  ${perPoll.toFixed(1).padStart(12)}  ${signal}`);
  }
}

async function bulk(list: Backend[]): Promise<void> {
  const key = EncryptionManager.generate();
  const ids = Array.from({ length: 100 }, (_, i) => `bulk_${String(i).padStart(3, '0')}`);
  for (const added of [0, 5]) {
    const rows = [];
    for (const b of list.filter((x) => x.cloud)) {
      const store = new CredentialStore(b.provider, key);
      if (added === 0) for (const id of ids) await store.put(id, `value of ${id}`);
      const undo = added > 0 ? b.delay?.(added) : undefined;
      try {
        const reqMany = b.requests();
        await store.getMany(ids);
        const manyRequests = b.requests() - reqMany;
        const reqSeq = b.requests();
        for (const id of ids) (await store.get(id)).secret.dispose();
        const seqRequests = b.requests() - reqSeq;
        const many = summarize(
          await measure(
            added > 0 ? 5 : 10,
            async () => {
              for (const r of await store.getMany(ids)) if (r.ok) r.secret.dispose();
            },
            1,
          ),
        );
        const sequential = summarize(
          await measure(
            added > 0 ? 3 : 5,
            async () => {
              for (const id of ids) (await store.get(id)).secret.dispose();
            },
            1,
          ),
        );
        rows.push({
          label: `${b.label}: getMany`,
          summary: many,
          note: `${manyRequests} requests; ${ratio(sequential.p50, many.p50)} the speed of 100 × get`,
        });
        rows.push({ label: `${b.label}: 100 × get`, summary: sequential, note: `${seqRequests} requests` });
      } finally {
        undo?.();
      }
    }
    printTable(
      added === 0
        ? 'getMany(100) vs 100 sequential gets, loopback (emulator and client share this process and its CPU)'
        : `getMany(100) vs 100 sequential gets, ${added} ms added to every request (a network round trip)`,
      rows,
    );
  }
}

const list = await backends();
try {
  await cachedGet();
  await coldStampede(list);
  await watchLatency(list);
  await bulk(list);
} finally {
  for (const b of list) {
    await b.provider.close();
    await b.stop();
  }
}
