// Workload identity federation with an executable credential source (Google's "pluggable auth"), run by the
// library instead of google-auth-library: its PluggableAuthHandler spawns the command with stdout and stderr
// appended to one string without a bound, under its own timeout only. This speaks the same protocol
// (GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES, the GOOGLE_EXTERNAL_ACCOUNT_* variables, timeout_millis, the
// output_file cache, the version 1 response) through the core bounded runner under the connect deadline,
// and hands the subject token to google-auth-library as a subject token supplier, so the STS exchange still
// goes through the provider's bounded token transport.

import { StorageError } from '../core/errors.js';
import { checkBoundedFile, FILE_SIZE_LIMITS, readBoundedTextFile, readDeadline } from '../core/files.js';
import { CREDENTIAL_HELPER_OUTPUT_LIMITS, runBoundedProcess } from '../core/process-run.js';

const PROVIDER = 'gcp-secret-manager';
const DEFAULT_TIMEOUT_MS = 30_000;
const MIN_TIMEOUT_MS = 5_000;
const MAX_TIMEOUT_MS = 120_000;
const SUBJECT_TOKEN_TYPES = new Set([
  'urn:ietf:params:oauth:token-type:jwt',
  'urn:ietf:params:oauth:token-type:id_token',
  'urn:ietf:params:oauth:token-type:saml2',
]);
const SAML = 'urn:ietf:params:oauth:token-type:saml2';
const WHAT = 'the workload identity executable (credential_source.executable)';

/** What google-auth-library hands a subject token supplier. */
interface SupplierContext {
  audience: string;
  subjectTokenType: string;
}

/**
 * A subject token supplier for google-auth-library's IdentityPoolClient (`subject_token_supplier`), and the
 * stop of the attempt it runs for (set before each token request, so a run is killed at that deadline).
 *
 * @internal
 */
export interface ExecutableSubjectTokenSupplier {
  getSubjectToken(context: SupplierContext): Promise<string>;
  /** The attempt's signal for the next run (the operation's deadline, or the provider closing). */
  signal: AbortSignal | undefined;
}

const invalid = (message: string) =>
  new StorageError({ code: 'InvalidConfig', message, provider: PROVIDER, operation: 'connect' });

const refused = (why: string, details: Record<string, unknown> = {}) =>
  new StorageError({
    code: 'AuthenticationFailed',
    message: `${WHAT} ${why}`,
    provider: PROVIDER,
    operation: 'connect',
    retryable: false,
    details: { source: 'executable', ...details },
  });

/** PluggableAuthHandler.parseCommand: split on spaces outside double quotes, the quotes then dropped. */
function parseCommand(command: string): string[] {
  const parts = command.match(/(?:[^\s"]+|"[^"]*")+/g);
  if (!parts) throw invalid(`${WHAT}: its command could not be parsed`);
  return parts.map((p) => (p.length > 1 && p.startsWith('"') && p.endsWith('"') ? p.slice(1, -1) : p));
}

/** The email of `service_account_impersonation_url`, as google-auth-library's getServiceAccountEmail. */
function impersonatedEmail(url: unknown): string | undefined {
  if (typeof url !== 'string' || url.length > 256) return undefined;
  return /serviceAccounts\/(?<email>[^:]+):generateAccessToken$/.exec(url)?.groups?.['email'];
}

/** A response that is safe to name in a message: a short token of word characters. */
const shown = (value: unknown) =>
  typeof value === 'string' && /^[\w.:/-]{1,100}$/.test(value) ? value : undefined;

interface ExecutableResponse {
  success: boolean;
  version: number;
  subjectToken?: string;
  expirationTime?: number;
  errorCode?: string;
  errorMessage?: string;
}

/** ExecutableResponse's checks, with errors naming fields only, never the token. */
function parseResponse(text: string, from: string): ExecutableResponse {
  let json: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    json = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  } catch {
    throw refused(`${from} is not JSON (a version 1 executable response was expected)`);
  }
  if (!json['version']) throw refused(`${from} has no 'version' field`);
  if (json['success'] === undefined) throw refused(`${from} has no 'success' field`);
  const version = Number(json['version']);
  const expiration = json['expiration_time'];
  const expirationTime = typeof expiration === 'number' ? expiration : undefined;
  if (json['success'] !== true) {
    if (!json['code']) throw refused(`${from} is unsuccessful without a 'code' field`);
    if (!json['message']) throw refused(`${from} is unsuccessful without a 'message' field`);
    return {
      success: false,
      version,
      errorCode: String(json['code']),
      errorMessage: String(json['message']),
    };
  }
  const tokenType = json['token_type'];
  if (typeof tokenType !== 'string' || !SUBJECT_TOKEN_TYPES.has(tokenType)) {
    throw refused(`${from} has no valid 'token_type' (one of ${[...SUBJECT_TOKEN_TYPES].join(', ')})`);
  }
  const field = tokenType === SAML ? 'saml_response' : 'id_token';
  const token = json[field];
  if (typeof token !== 'string' || token === '') {
    throw refused(`${from} has no '${field}' field for token_type ${tokenType}`);
  }
  return {
    success: true,
    version,
    subjectToken: token,
    ...(expirationTime !== undefined ? { expirationTime } : {}),
  };
}

const isExpired = (r: ExecutableResponse) =>
  r.expirationTime !== undefined && r.expirationTime < Math.round(Date.now() / 1000);

/**
 * A subject token supplier for `credential_source.executable` of a workload identity federation file,
 * validated as google-auth-library's PluggableAuthClient validates it (a command; `timeout_millis` between
 * 5 and 120 s, 30 s by default). Each token request first reads `output_file` (bounded, regular file; used
 * when it holds a successful, unexpired response), else runs the command (no shell, as Google's handler)
 * with GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE, _TOKEN_TYPE, _INTERACTIVE=0, _OUTPUT_FILE and
 * _IMPERSONATED_EMAIL, stdout and stderr bounded by `CREDENTIAL_HELPER_OUTPUT_LIMITS`, killed at
 * `timeout_millis` or `connectMs`, whichever is shorter, or when the attempt's signal aborts. Running it
 * needs GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 (`InvalidConfig` otherwise); an error response, an
 * expired or malformed one, or a failing command is `AuthenticationFailed`, never quoting a token.
 *
 * @example
 * ```ts
 * const supplier = executableSubjectTokenSupplier(json, { connectMs: 2000 });
 * const client = new IdentityPoolClient({ ...json, credential_source: undefined, subject_token_supplier: supplier });
 * ```
 *
 * @internal
 */
export function executableSubjectTokenSupplier(
  json: Record<string, unknown>,
  options: { connectMs: number; env?: NodeJS.ProcessEnv | undefined },
): ExecutableSubjectTokenSupplier {
  const source = (json['credential_source'] as { executable?: Record<string, unknown> } | undefined)
    ?.executable;
  const command = source?.['command'];
  if (typeof command !== 'string' || command === '') {
    throw invalid(`${WHAT} has no command`);
  }
  const [executable, ...args] = parseCommand(command);
  const timeoutMillis =
    source?.['timeout_millis'] === undefined ? DEFAULT_TIMEOUT_MS : Number(source['timeout_millis']);
  if (!(timeoutMillis >= MIN_TIMEOUT_MS && timeoutMillis <= MAX_TIMEOUT_MS)) {
    throw invalid(`${WHAT}: timeout_millis must be between ${MIN_TIMEOUT_MS} and ${MAX_TIMEOUT_MS}`);
  }
  const outputFile =
    typeof source?.['output_file'] === 'string' && source['output_file'] ? source['output_file'] : undefined;
  const email = impersonatedEmail(json['service_account_impersonation_url']);
  const env = () => options.env ?? process.env;

  const cached = async (signal: AbortSignal | undefined): Promise<ExecutableResponse | undefined> => {
    if (!outputFile) return undefined;
    const read = {
      maxBytes: FILE_SIZE_LIMITS.token,
      what: 'the workload identity executable output file',
      option: 'credential_source.executable.output_file',
      provider: PROVIDER,
      operation: 'connect' as const,
      signal,
    };
    if (!(await checkBoundedFile(outputFile, { ...read, skipUnopenable: true }))) return undefined;
    const text = await readBoundedTextFile(outputFile, read);
    if (text === '') return undefined;
    const response = parseResponse(text, 'the output_file');
    return response.success && !isExpired(response) ? response : undefined;
  };

  const run = async (context: SupplierContext, signal: AbortSignal | undefined) => {
    // The shorter of the two: the executable's own timeout, and the connect deadline of every helper run.
    const deadline = readDeadline(Math.min(timeoutMillis, options.connectMs), WHAT, signal);
    let stdout: Buffer;
    try {
      stdout = await runBoundedProcess({
        command: executable!,
        args,
        env: {
          ...env(),
          GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE: context.audience,
          GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE: context.subjectTokenType,
          GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE: '0',
          ...(outputFile ? { GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE: outputFile } : {}),
          ...(email ? { GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL: email } : {}),
        },
        what: WHAT,
        limits: CREDENTIAL_HELPER_OUTPUT_LIMITS,
        signal: deadline.signal,
        provider: PROVIDER,
        operation: 'connect',
        expectedOutput: 'its JSON response is a few KiB',
      });
    } finally {
      deadline.clear();
    }
    try {
      return parseResponse(stdout.toString('utf8'), 'its response');
    } finally {
      stdout.fill(0);
    }
  };

  const supplier: ExecutableSubjectTokenSupplier = {
    signal: undefined,
    async getSubjectToken(context) {
      if (env()['GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES'] !== '1') {
        throw invalid(
          `${WHAT} may run only when GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES is 1 (Google's opt-in for running a configured command)`,
        );
      }
      const signal = supplier.signal;
      const response = (await cached(signal)) ?? (await run(context, signal));
      if (response.version > 1) {
        throw refused(`answered version ${response.version}; the highest supported is 1`);
      }
      if (!response.success) {
        const code = shown(response.errorCode);
        throw refused(
          `reported an error${code ? ` (${code})` : ''}: ${String(response.errorMessage).slice(0, 500)}`,
          code ? { backendCode: code } : {},
        );
      }
      if (outputFile && response.expirationTime === undefined) {
        throw refused(`answered without 'expiration_time', which an output_file requires`);
      }
      if (isExpired(response)) throw refused('answered with an expired subject token');
      return response.subjectToken!;
    },
  };
  return supplier;
}
