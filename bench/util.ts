import { performance } from 'node:perf_hooks';

/** Latency figures in milliseconds. */
export interface LatencySummary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
}

/** Exact percentiles of the samples (nearest rank). */
export function summarize(samples: number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return {
    n: sorted.length,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
  };
}

/** Runs `fn` `warmup` times unmeasured, then `iterations` times, returning each duration in ms. */
export async function measure(
  iterations: number,
  fn: (i: number) => Promise<unknown> | unknown,
  warmup = 20,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    await fn(i);
    samples.push(performance.now() - t);
  }
  return samples;
}

/**
 * Samples of several cases, alternated call by call (a, b, a, b, ...), so drift in the machine's load, GC
 * and JIT state hits every case alike; one array of milliseconds per case.
 */
export async function measureInterleaved(
  iterations: number,
  fns: readonly ((i: number) => Promise<unknown> | unknown)[],
  warmup = 20,
): Promise<number[][]> {
  for (let i = 0; i < warmup; i++) for (const fn of fns) await fn(i);
  const samples = fns.map(() => [] as number[]);
  for (let i = 0; i < iterations; i++) {
    for (const [k, fn] of fns.entries()) {
      const t = performance.now();
      await fn(i);
      samples[k]!.push(performance.now() - t);
    }
  }
  return samples;
}

const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toFixed(4));

/** Prints a table: one row per label with p50/p95/p99/mean and an optional note (ratio, target). */
export function printTable(
  title: string,
  rows: { label: string; summary: LatencySummary; note?: string }[],
): void {
  console.log(`\n${title}`);
  const width = Math.max(...rows.map((r) => r.label.length), 10);
  console.log(
    `${'case'.padEnd(width)}  ${'n'.padStart(6)}  ${'p50 ms'.padStart(9)}  ${'p95 ms'.padStart(9)}  ${'p99 ms'.padStart(9)}  ${'mean ms'.padStart(9)}  note`,
  );
  for (const { label, summary: s, note } of rows) {
    console.log(
      `${label.padEnd(width)}  ${String(s.n).padStart(6)}  ${fmt(s.p50).padStart(9)}  ${fmt(s.p95).padStart(9)}  ${fmt(s.p99).padStart(9)}  ${fmt(s.mean).padStart(9)}  ${note ?? ''}`,
    );
  }
}

/** "1.07x" style ratio. */
export function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}x`;
}
