import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (tests run from .build/test/cli). */
export const ROOT = resolve(here, '..', '..', '..');
/** The compiled command, as `tsc -p tsconfig.json` leaves it. */
export const CLI = join(ROOT, '.build', 'src', 'cli', 'main.js');

/** What a finished command printed and returned. */
export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

/** Options for {@link nebula}. */
export interface CliRunOptions {
  home: string;
  input?: string | Buffer;
  env?: Record<string, string | undefined>;
  cwd?: string;
  nodeArgs?: string[];
}

/** A clean environment: no inherited NEBULA_* variables, HOME pointing at the temporary home. */
export function cliEnv(home: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NEBULA_')) env[k] = v;
  env['HOME'] = home;
  env['USERPROFILE'] = home;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs the built command in a child process, standard input closed after `input`. */
export function nebula(args: string[], options: CliRunOptions): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], {
      env: cliEnv(options.home, options.env),
      cwd: options.cwd ?? options.home,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (status) => {
      const stdoutBytes = Buffer.concat(out);
      resolvePromise({
        status,
        stdout: stdoutBytes.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stdoutBytes,
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** A temporary HOME, removed by the returned cleanup. */
export async function tempHome(): Promise<{ home: string; cleanup: () => Promise<void> }> {
  const home = await mkdtemp(join(tmpdir(), 'nebula-cli-'));
  return { home, cleanup: () => rm(home, { recursive: true, force: true }) };
}
