#!/usr/bin/env node
// Runs every compiled benchmark (.build/bench/**/*.bench.js) one after another, each in its own process,
// and lets them print their figures. Benchmarks print; they never fail on a figure.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, '.build', 'bench');
const walk = (d) =>
  readdirSync(d).flatMap((n) =>
    statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : n.endsWith('.bench.js') ? [join(d, n)] : [],
  );
const filters = process.argv.slice(2);
const files = walk(dir)
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
let failed = 0;
for (const file of files) {
  console.log(`\n### ${file.slice(dir.length + 1)} (Node ${process.version})`);
  const r = spawnSync(process.execPath, ['--expose-gc', file], { stdio: 'inherit', env, cwd: root });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
