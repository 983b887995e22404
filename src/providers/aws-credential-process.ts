// A profile's `credential_process`, run by the library instead of the SDK: @aws-sdk/credential-provider-process
// runs it with child_process `exec` (a shell, Node's default maxBuffer of 1 MiB, no timeout), so a hanging
// command outlives connect() and an oversized answer is an opaque exec error. This runs the same command line
// the same way (the shell, the process's environment and folder) through the core bounded runner, and reads
// the answer as the SDK does (Version 1, AccessKeyId, SecretAccessKey, SessionToken, Expiration,
// CredentialScope, AccountId, the expiry check), with typed errors that never quote the output.

import { StorageError } from '../core/errors.js';
import { readDeadline } from '../core/files.js';
import { CREDENTIAL_HELPER_OUTPUT_LIMITS, runBoundedProcess } from '../core/process-run.js';
import { AWS_SECRETS_MANAGER as PROVIDER } from './aws-secrets-manager-options.js';

/** A profile of the shared config and credentials files, as the SDK parses it. */
type Profile = Record<string, string | undefined>;

/** Credentials as the SDK's providers return them. @internal */
export interface ProcessCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
  credentialScope?: string;
  accountId?: string;
  [key: string]: unknown;
}

/**
 * The key under which a caller of the chain hands it a stop signal in the provider's properties (connect()
 * does, so a command still running at its deadline is killed then, not only at the command's own timeout).
 *
 * @example
 * ```ts
 * await credentials({ [CHAIN_STOP_SIGNAL]: AbortSignal.timeout(1700) });
 * ```
 *
 * @internal
 */
export const CHAIN_STOP_SIGNAL = 'nebulaCredentialStopSignal';

/** How one run is bounded: the connect deadline, and the caller's stop (its reason is what the run rejects with). @internal */
export interface CredentialProcessRun {
  timeoutMs: number;
  stop?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

const refused = (profile: string, why: string, details: Record<string, unknown> = {}) =>
  new StorageError({
    code: 'AuthenticationFailed',
    message: `the credential_process of AWS profile "${profile}" ${why}`,
    provider: PROVIDER,
    operation: 'connect',
    retryable: false,
    details: { profile, source: 'credential_process', ...details },
  });

/** getValidatedProcessCredentials of the SDK, with the library's errors (never quoting the output). */
function validated(
  name: string,
  data: unknown,
  profiles: Record<string, Profile | undefined>,
): ProcessCredentials {
  const answer = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  if (answer['Version'] !== 1) throw refused(name, 'did not return Version 1');
  const { AccessKeyId, SecretAccessKey, SessionToken, Expiration, CredentialScope } = answer;
  if (typeof AccessKeyId !== 'string' || typeof SecretAccessKey !== 'string') {
    throw refused(name, 'returned invalid credentials (AccessKeyId and SecretAccessKey are required)');
  }
  let expiration: Date | undefined;
  if (Expiration) {
    expiration = new Date(String(Expiration));
    if (Number.isNaN(expiration.getTime())) {
      throw refused(name, 'returned invalid credentials (Expiration is not an ISO 8601 time)');
    }
    if (expiration.getTime() < Date.now()) {
      throw refused(name, 'returned expired credentials', { expiration: expiration.toISOString() });
    }
  }
  const accountId = answer['AccountId'] || profiles[name]?.['aws_account_id'];
  return {
    accessKeyId: AccessKeyId,
    secretAccessKey: SecretAccessKey,
    ...(SessionToken ? { sessionToken: String(SessionToken) } : {}),
    ...(expiration ? { expiration } : {}),
    ...(CredentialScope ? { credentialScope: String(CredentialScope) } : {}),
    ...(accountId ? { accountId: String(accountId) } : {}),
  };
}

/**
 * Runs the `credential_process` of profile `name` through the shell, as the SDK does (the process's
 * environment and working folder), with stdout and stderr bounded by `CREDENTIAL_HELPER_OUTPUT_LIMITS`
 * and killed at `run.timeoutMs` or when `run.stop` aborts, and returns the credentials of its answer.
 * Failures are `StorageError`s, never retried or passed over to the next link of the chain: a bound passed
 * `Unavailable` with `details.limitBytes`; the deadline `Timeout`; a non-zero exit `AuthenticationFailed`
 * with `details.exitCode` and the tail of stderr; an answer that is not JSON, not Version 1, without keys or
 * expired `AuthenticationFailed`. The output is never quoted. The caller checks that the profile has one.
 *
 * @example
 * ```ts
 * const profiles = await parseKnownFiles({});
 * const credentials = await runCredentialProcess('dev', profiles, { timeoutMs: 2000 });
 * console.log(credentials.accessKeyId);
 * ```
 *
 * @internal
 */
export async function runCredentialProcess(
  name: string,
  profiles: Record<string, Profile | undefined>,
  run: CredentialProcessRun,
): Promise<ProcessCredentials> {
  const command = profiles[name]?.['credential_process'] ?? '';
  const what = `the credential_process of AWS profile "${name}"`;
  const stop = readDeadline(run.timeoutMs, what, run.stop);
  let stdout: Buffer;
  try {
    stdout = await runBoundedProcess({
      command,
      shell: true,
      env: run.env ?? process.env,
      what,
      limits: CREDENTIAL_HELPER_OUTPUT_LIMITS,
      signal: stop.signal,
      provider: PROVIDER,
      operation: 'connect',
      expectedOutput: 'its JSON answer is a few KiB',
    });
  } finally {
    stop.clear();
  }
  let data: unknown;
  try {
    data = JSON.parse(stdout.toString('utf8').trim());
  } catch {
    throw refused(name, 'returned invalid JSON (a Version 1 credentials document was expected on stdout)');
  } finally {
    stdout.fill(0);
  }
  return validated(name, data, profiles);
}
