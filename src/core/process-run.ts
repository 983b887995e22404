// Runs a credential helper command (a kubeconfig exec plugin, an AWS credential_process, a Google
// pluggable-auth executable) with bounded output under a deadline. The SDKs' own runners append output to
// strings without a bound or a timeout (or with Node's exec maxBuffer and no timeout), so a helper that
// prints forever or hangs takes the process's memory or the call with it.

import { spawn } from 'node:child_process';
import { StorageError, type StorageOperation } from './errors.js';
import { FILE_SIZE_LIMITS } from './files.js';

/**
 * The bounds on a helper's output: stdout holds one credential document; stderr is its log, of which only
 * the last `stderrTailBytes` go into a message.
 *
 * @example
 * ```ts
 * import { EXEC_OUTPUT_LIMITS } from 'nebula-credential/kubernetes';
 * const limits: ProcessOutputLimits = EXEC_OUTPUT_LIMITS;
 * console.log(limits.stderrTailBytes); // 2048
 * ```
 */
export interface ProcessOutputLimits {
  readonly stdoutBytes: number;
  readonly stderrBytes: number;
  readonly stderrTailBytes: number;
}

/**
 * The bounds of every credential helper the library runs: stdout holds one credential document (a token,
 * keys, or a certificate and key), as large as a token file may be; stderr is the helper's log, of which
 * only the last 2 KiB go into a message.
 *
 * @example
 * ```ts
 * console.log(CREDENTIAL_HELPER_OUTPUT_LIMITS.stdoutBytes); // 1048576
 * ```
 *
 * @internal
 */
export const CREDENTIAL_HELPER_OUTPUT_LIMITS: ProcessOutputLimits = Object.freeze({
  stdoutBytes: FILE_SIZE_LIMITS.token,
  stderrBytes: 1024 * 1024,
  stderrTailBytes: 2048,
});

/**
 * One run of a helper command, and how to name it in messages.
 *
 * @example
 * ```ts
 * const run: BoundedProcessRun = {
 *   command: 'aws-vault', args: ['export', '--format=json', 'dev'], env: process.env,
 *   what: 'the credential_process of profile "dev"', limits, signal,
 *   provider: 'aws-secrets-manager', operation: 'connect',
 * };
 * ```
 *
 * @internal
 */
export interface BoundedProcessRun {
  /** The executable, or with `shell` the whole command line. */
  command: string;
  args?: readonly string[] | undefined;
  /** Run `command` through the system shell (`/bin/sh -c`, `cmd.exe` on Windows), as Node's `exec` does. */
  shell?: boolean | undefined;
  env: NodeJS.ProcessEnv;
  cwd?: string | undefined;
  /** `the exec plugin "aws" of user "eks"`, for messages; never the command line (it may hold secrets). */
  what: string;
  limits: ProcessOutputLimits;
  /** The deadline (or a close): the run is killed with its process group, the promise rejects with its reason. */
  signal: AbortSignal;
  provider: string;
  operation: StorageOperation;
  /** Appended to the not-found message (an install hint). */
  notFoundHint?: string | undefined;
  /** What stdout should hold, for the message when it passes its bound (`an ExecCredential is a few KiB`). */
  expectedOutput?: string | undefined;
}

function failure(
  run: BoundedProcessRun,
  code: 'InvalidConfig' | 'AuthenticationFailed' | 'Unavailable',
  message: string,
  details: Record<string, unknown> = {},
): StorageError {
  return new StorageError({
    code,
    message,
    provider: run.provider,
    operation: run.operation,
    retryable: false,
    details,
  });
}

/**
 * Spawns `run.command` with stdin closed (the library is never interactive) and resolves with its stdout
 * once it exits 0. The command (with its process group, so a shell's or wrapper's children go too) is
 * killed when stdout or stderr passes its bound, or when `run.signal` aborts: the promise rejects at once,
 * without waiting for pipes a grandchild may hold open. Failures are `StorageError`s, never retryable:
 * not found or not executable `InvalidConfig`; a non-zero exit or a kill `AuthenticationFailed` with
 * `details.exitCode` (or `signal`) and the tail of stderr; a bound passed `Unavailable` with
 * `details.limitBytes`; the signal's reason at abort (a `Timeout` for a deadline). stdout never goes into
 * a message, and its buffers are zeroed once handed over or dropped.
 *
 * @example
 * ```ts
 * const deadline = readDeadline(2000, 'the credential helper');
 * try {
 *   const stdout = await runBoundedProcess({
 *     command: 'gcloud', args: ['auth', 'print-identity-token'], env: process.env,
 *     what: 'the credential helper', signal: deadline.signal,
 *     limits: { stdoutBytes: 1 << 20, stderrBytes: 1 << 20, stderrTailBytes: 2048 },
 *     provider: 'gcp-secret-manager', operation: 'connect',
 *   });
 *   console.log(stdout.length);
 * } finally {
 *   deadline.clear();
 * }
 * ```
 *
 * @internal
 */
export function runBoundedProcess(run: BoundedProcessRun): Promise<Buffer> {
  const { signal, limits } = run;
  return new Promise<Buffer>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const group = process.platform !== 'win32';
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(run.command, [...(run.args ?? [])], {
        env: run.env,
        ...(run.cwd !== undefined ? { cwd: run.cwd } : {}),
        shell: run.shell === true,
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, so a kill reaches what a shell or wrapper script started too.
        detached: group,
        windowsHide: true,
      });
    } catch (error) {
      // Node refuses some arguments at once (a NUL byte in an argument or in the env).
      reject(
        failure(
          run,
          'InvalidConfig',
          `${run.what} cannot be started (${(error as NodeJS.ErrnoException).code ?? 'invalid arguments'})`,
        ),
      );
      return;
    }
    const stdoutStream = child.stdout!;
    const stderrStream = child.stderr!;
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrBytes = 0;
    let stderrTail = Buffer.alloc(0);
    let settled = false;
    const kill = () => {
      try {
        if (group && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      stdoutStream.destroy();
      stderrStream.destroy();
    };
    const settle = (error: unknown, value?: Buffer) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (error === undefined) resolve(value!);
      else {
        for (const chunk of stdout) chunk.fill(0);
        reject(error);
      }
    };
    const tooMuch = (stream: 'stdout' | 'stderr', limitBytes: number) => {
      kill();
      const expected = run.expectedOutput ? ` (${run.expectedOutput})` : '';
      settle(
        failure(
          run,
          'Unavailable',
          `${run.what} wrote more than ${limitBytes} bytes to ${stream}; it was stopped${expected}`,
          { limitBytes, stream },
        ),
      );
    };
    const onAbort = () => {
      kill();
      settle(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    stdoutStream.on('data', (chunk: Buffer) => {
      if (settled) return;
      stdoutBytes += chunk.length;
      if (stdoutBytes > limits.stdoutBytes) tooMuch('stdout', limits.stdoutBytes);
      else stdout.push(chunk);
    });
    stderrStream.on('data', (chunk: Buffer) => {
      if (settled) return;
      stderrBytes += chunk.length;
      if (stderrBytes > limits.stderrBytes) {
        tooMuch('stderr', limits.stderrBytes);
        return;
      }
      const joined = Buffer.concat([stderrTail, chunk]);
      stderrTail = joined.subarray(Math.max(0, joined.length - limits.stderrTailBytes));
    });
    // With a shell, a missing or unrunnable command is the shell's exit status 127 or 126 instead.
    const executable = run.shell ? 'the shell' : run.command;
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        // client-go's wording.
        settle(
          failure(
            run,
            'InvalidConfig',
            `${run.what}: executable ${executable} not found${run.notFoundHint ? `\n\n${run.notFoundHint}` : ''}`,
            { command: executable },
          ),
        );
      } else if (error.code === 'EACCES') {
        settle(
          failure(run, 'InvalidConfig', `${run.what}: ${executable} is not executable (EACCES)`, {
            command: executable,
          }),
        );
      } else {
        kill();
        settle(failure(run, 'Unavailable', `${run.what} could not be run (${error.code ?? error.name})`));
      }
    });
    child.on('close', (code, killedBy) => {
      if (code === 0) {
        settle(undefined, Buffer.concat(stdout));
        for (const chunk of stdout) chunk.fill(0);
        return;
      }
      const tail = stderrTail.toString('utf8').trim();
      const status = killedBy ? `was killed by ${killedBy}` : `failed with exit code ${code}`;
      settle(
        failure(run, 'AuthenticationFailed', `${run.what} ${status}${tail ? `: ${tail}` : ''}`, {
          ...(code !== null ? { exitCode: code } : { signal: killedBy }),
        }),
      );
    });
  });
}
