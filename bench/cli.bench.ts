// Whole-process cost of `nebula-credential get` of a 10 KB credential (local provider, key file), beside a
// bare `node -e 0` in the same run (target: at most 1.3x), and beside `pass show` of the same secret
// where `pass` is installed. Each sample is one spawned process; the cases are interleaved so load on the
// machine affects them alike.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { printTable, ratio, summarize } from './util.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const distCli = join(root, 'dist', 'cli', 'main.js');
const cli = existsSync(distCli) ? distCli : join(root, '.build', 'src', 'cli', 'main.js');
const ITERATIONS = Number(process.env['BENCH_ITERATIONS'] ?? 30);
const WARMUP = 3;

const home = mkdtempSync(join(tmpdir(), 'nebula-bench-'));
const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
for (const key of Object.keys(env)) if (key.startsWith('NEBULA_CREDENTIAL_')) delete env[key];
const value = randomBytes(7680).toString('base64'); // 10240 characters

function must(command: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(command, args, {
    env: options.env ?? env,
    input: options.input ?? '',
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function time(command: string, args: string[], runEnv: NodeJS.ProcessEnv, expect?: string): number {
  const t = performance.now();
  const r = spawnSync(command, args, { env: runEnv, encoding: 'utf8' });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${command} failed (${r.status}): ${r.stderr}`);
  if (expect !== undefined && r.stdout.trimEnd() !== expect)
    throw new Error(`${command} printed something else`);
  return ms;
}

/** A throwaway GnuPG key and password store holding the same value, when `pass` is installed. */
function setUpPass(): { env: NodeJS.ProcessEnv; cleanup: () => void } | string {
  if (spawnSync('pass', ['version'], { encoding: 'utf8' }).status !== 0) return 'pass is not installed';
  const gnupg = mkdtempSync(join(tmpdir(), 'gpg-'));
  const passEnv = { ...env, GNUPGHOME: gnupg, PASSWORD_STORE_DIR: join(home, 'pass-store') };
  try {
    must(
      'gpg',
      [
        '--batch',
        '--passphrase',
        '',
        '--quick-gen-key',
        'nebula bench <bench@example.invalid>',
        'default',
        'default',
        'never',
      ],
      { env: passEnv },
    );
    const fpr = /^fpr:+([0-9A-F]+):/m.exec(
      must('gpg', ['--list-keys', '--with-colons'], { env: passEnv }),
    )?.[1];
    if (!fpr) return 'could not create a GnuPG key for pass';
    must('pass', ['init', fpr], { env: passEnv });
    must('pass', ['insert', '-m', 'bench'], { env: passEnv, input: `${value}\n` });
  } catch (error) {
    return `pass could not be set up: ${(error as Error).message.split('\n')[0]}`;
  }
  return {
    env: passEnv,
    cleanup: () => {
      spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: passEnv });
      rmSync(gnupg, { recursive: true, force: true });
    },
  };
}

try {
  must(process.execPath, [cli, 'init']);
  writeFileSync(join(home, 'value.txt'), value);
  must(process.execPath, [cli, 'put', 'bench', '--from-file', join(home, 'value.txt')]);
  const pass = setUpPass();

  const cases: { label: string; run: () => number; samples: number[] }[] = [
    { label: 'node -e 0', run: () => time(process.execPath, ['-e', '0'], env), samples: [] },
    {
      label: 'nebula-credential get (10 KB)',
      run: () => time(process.execPath, [cli, 'get', 'bench'], env, value),
      samples: [],
    },
  ];
  if (typeof pass !== 'string') {
    cases.push({
      label: 'pass show (10 KB)',
      run: () => time('pass', ['show', 'bench'], pass.env, value),
      samples: [],
    });
  }
  for (let i = 0; i < WARMUP; i++) for (const c of cases) c.run();
  for (let i = 0; i < ITERATIONS; i++) for (const c of cases) c.samples.push(c.run());

  const base = summarize(cases[0]!.samples);
  printTable(
    `whole-process get, ${ITERATIONS} runs each, interleaved (${cli.includes('/dist/') ? 'dist' : '.build'} build)`,
    cases.map((c) => {
      const s = summarize(c.samples);
      const note =
        c === cases[0]
          ? 'baseline'
          : `${ratio(s.p50, base.p50)} of node -e 0 at p50 (mean ${ratio(s.mean, base.mean)})`;
      return {
        label: c.label,
        summary: s,
        note: c.label.startsWith('nebula') ? `${note}; target <= 1.30x` : note,
      };
    }),
  );
  const extra = summarize(cases[1]!.samples).p50 - base.p50;
  console.log(`nebula-credential get adds ${extra.toFixed(1)} ms (p50) to a bare node start`);
  if (typeof pass === 'string') console.log(`pass show: skipped (${pass})`);
  else pass.cleanup();
} finally {
  rmSync(home, { recursive: true, force: true });
}
