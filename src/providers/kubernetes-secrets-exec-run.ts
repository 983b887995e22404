// Runs a kubeconfig exec credential plugin with bounded output under a deadline. client-node's own runner
// appends stdout and stderr to strings without a bound or a timeout, so a plugin that prints forever or
// hangs takes the process's memory or the call with it.

import { spawn } from 'node:child_process';
import { StorageError } from '../core/errors.js';
import { FILE_SIZE_LIMITS } from '../core/files.js';
import { KUBERNETES as PROVIDER } from './kubernetes-secrets-options.js';

/**
 * The bounds on a plugin's output: stdout holds one ExecCredential (a token or a certificate and key), as
 * large as a token file may be; stderr is the plugin's log, of which only the tail goes into a message.
 *
 * @example
 * ```ts
 * import { EXEC_OUTPUT_LIMITS } from 'nebula-credential/kubernetes';
 * console.log(EXEC_OUTPUT_LIMITS.stdoutBytes); // 1048576
 * ```
 */
export const EXEC_OUTPUT_LIMITS = Object.freeze({
  stdoutBytes: FILE_SIZE_LIMITS.token,
  stderrBytes: 1024 * 1024,
  stderrTailBytes: 2048,
});

/** What to run, and how to name it in messages. @internal */
export interface PluginRun {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  /** `the exec plugin "aws" of user "eks"`, for messages. */
  what: string;
  /** Appended when the command is not found (the kubeconfig's `installHint`). */
  installHint: string | undefined;
}

function failure(
  code: 'InvalidConfig' | 'AuthenticationFailed' | 'Unavailable',
  message: string,
  details: Record<string, unknown> = {},
): StorageError {
  return new StorageError({
    code,
    message,
    provider: PROVIDER,
    operation: 'connect',
    retryable: false,
    details,
  });
}

/**
 * Spawns the plugin with stdin closed (this library is never interactive) and resolves with its stdout once
 * it exits 0. The plugin (with its process group, so a shell's children go too) is killed when stdout or
 * stderr passes its bound, or when `signal` aborts (the deadline, or the provider closing): the promise
 * rejects at once, without waiting for pipes a grandchild may hold open. Messages carry the exit status and
 * the tail of stderr, never stdout.
 * @internal
 */
export function runPlugin(run: PluginRun, signal: AbortSignal): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const group = process.platform !== 'win32';
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(run.command, [...run.args], {
        env: run.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, so a kill reaches what a wrapper script started too.
        detached: group,
        windowsHide: true,
      });
    } catch (error) {
      // Node refuses some arguments at once (a NUL byte in an argument or in the env).
      reject(
        failure(
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
      settle(
        failure(
          'Unavailable',
          `${run.what} wrote more than ${limitBytes} bytes to ${stream}; it was stopped (an ExecCredential is a few KiB)`,
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
      if (stdoutBytes > EXEC_OUTPUT_LIMITS.stdoutBytes) tooMuch('stdout', EXEC_OUTPUT_LIMITS.stdoutBytes);
      else stdout.push(chunk);
    });
    stderrStream.on('data', (chunk: Buffer) => {
      if (settled) return;
      stderrBytes += chunk.length;
      if (stderrBytes > EXEC_OUTPUT_LIMITS.stderrBytes) {
        tooMuch('stderr', EXEC_OUTPUT_LIMITS.stderrBytes);
        return;
      }
      const joined = Buffer.concat([stderrTail, chunk]);
      stderrTail = joined.subarray(Math.max(0, joined.length - EXEC_OUTPUT_LIMITS.stderrTailBytes));
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        // client-go's wording, with the kubeconfig's installHint.
        settle(
          failure(
            'InvalidConfig',
            `${run.what}: executable ${run.command} not found${run.installHint ? `\n\n${run.installHint}` : ''}`,
            { command: run.command },
          ),
        );
      } else if (error.code === 'EACCES') {
        settle(
          failure('InvalidConfig', `${run.what}: ${run.command} is not executable (EACCES)`, {
            command: run.command,
          }),
        );
      } else {
        kill();
        settle(failure('Unavailable', `${run.what} could not be run (${error.code ?? error.name})`));
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
        failure('AuthenticationFailed', `${run.what} ${status}${tail ? `: ${tail}` : ''}`, {
          ...(code !== null ? { exitCode: code } : { signal: killedBy }),
        }),
      );
    });
  });
}
