import { spawn, spawnSync } from 'node:child_process';
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

/** True where `script` from util-linux can give the command a pseudo-terminal. */
export const HAS_SCRIPT_PTY =
  process.platform === 'linux' &&
  spawnSync('script', ['--version'], { encoding: 'utf8' }).stdout?.includes('util-linux') === true;

/** One step of a terminal session: wait until the output matches `after`, then type `keys`. */
export interface TerminalStep {
  after: RegExp;
  keys: string;
}

/**
 * What a command run on a pseudo-terminal printed (standard output and error together, as a terminal shows
 * them).
 */
export interface TerminalResult {
  status: number | null;
  output: string;
}

const shellQuote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the built command on a pseudo-terminal (`script -qfec`), so standard input, output and error are
 * all a terminal, and types each step's keys once the output shows its prompt (never earlier: before the
 * command turns raw mode on, the terminal's own line editing would take them).
 */
export function nebulaOnTerminal(
  args: string[],
  options: { home: string; env?: Record<string, string>; steps?: TerminalStep[] },
): Promise<TerminalResult> {
  const command = [process.execPath, CLI, ...args].map(shellQuote).join(' ');
  return new Promise((resolvePromise, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { ...cliEnv(options.home, options.env), TERM: 'xterm', COLUMNS: '100' },
      cwd: options.home,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const steps = [...(options.steps ?? [])];
    let output = '';
    let seen = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const step = steps[0];
      if (step?.after.test(output.slice(seen))) {
        steps.shift();
        seen = output.length;
        child.stdin.write(step.keys);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stdin.on('error', () => {});
    // A command that waits for keys no step sends would hang the suite: end it and let the test fail.
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(guard);
      resolvePromise({ status, output });
    });
  });
}
