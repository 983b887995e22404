import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Independent clients (Python SDKs, cloud CLIs) run as child processes against an emulator in this process.

/**
 * Runs a command and collects its output. Asynchronous on purpose: the emulator answers from this
 * process's event loop, which a synchronous spawn would block.
 */
export function runClient(
  command: string,
  args: string[],
  env: Record<string, string>,
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, {
    env,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdin?.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/**
 * Runs a Python script with a clean environment (PATH, an empty HOME, then `env`) and returns the JSON
 * object its last output line holds; a non-zero exit fails the test with the script's stderr.
 */
export async function runPythonJson(
  python: string,
  source: string,
  env: Record<string, string>,
): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'nebula-py-'));
  const script = join(dir, 'client.py');
  writeFileSync(script, source);
  const { code, stdout, stderr } = await runClient(python, [script], {
    PATH: process.env['PATH'] ?? '',
    HOME: dir,
    ...env,
  });
  assert.equal(code, 0, stderr.slice(-2000));
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

/** The compiled src/ folder, as a URL a child's `import()` takes. */
export const BUILT = new URL('../../src/', import.meta.url).href;

/**
 * Runs `body` (an ES module body with `SRC` bound to the compiled src/ URL) in a fresh Node process that
 * must print its result and exit on its own: anything left blocked (a FIFO open in the thread pool) keeps
 * it alive, and the guard then kills it and reports a hang.
 */
export function runInChild(
  body: string,
  env: Record<string, string> = {},
): Promise<{ out: string; hung: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', `const SRC = ${JSON.stringify(BUILT)};\n${body}`],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
    );
    let out = '';
    let err = '';
    let hung = false;
    child.stdout.on('data', (c: Buffer) => {
      out += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c;
    });
    // A generous guard against a hang (the machine is shared and slow); it never measures anything.
    const guard = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, 60_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(guard);
      if (err.trim() !== '' && !hung) out += `\nstderr: ${err}`;
      resolve({ out, hung });
    });
  });
}
