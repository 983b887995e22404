// Runs a kubeconfig exec credential plugin through the core bounded runner. client-node's own runner
// appends stdout and stderr to strings without a bound or a timeout, so a plugin that prints forever or
// hangs takes the process's memory or the call with it.

import { CREDENTIAL_HELPER_OUTPUT_LIMITS, runBoundedProcess } from '../core/process-run.js';
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
export const EXEC_OUTPUT_LIMITS = CREDENTIAL_HELPER_OUTPUT_LIMITS;

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

/**
 * Runs the plugin (no shell, as client-go) and resolves with its stdout once it exits 0; killed with its
 * process group at a bound or when `signal` aborts (the deadline, or the provider closing). Messages carry
 * the exit status and the tail of stderr, never stdout.
 *
 * @example
 * ```ts
 * const stdout = await runPlugin({ command: 'kubelogin', args: ['get-token'], env: process.env,
 *   what: 'the exec plugin "kubelogin" of user "dev"', installHint: undefined }, deadline.signal);
 * ```
 *
 * @internal
 */
export function runPlugin(run: PluginRun, signal: AbortSignal): Promise<Buffer> {
  return runBoundedProcess({
    command: run.command,
    args: run.args,
    env: run.env,
    what: run.what,
    limits: EXEC_OUTPUT_LIMITS,
    signal,
    provider: PROVIDER,
    operation: 'connect',
    notFoundHint: run.installHint,
    expectedOutput: 'an ExecCredential is a few KiB',
  });
}
