import { isStorageError, type StorageErrorCode } from '../core/errors.js';

/** Exit status of a successful command. */
export const EXIT_OK = 0;
/** `exists`: the credential does not exist. Nothing failed. */
export const EXIT_NO = 1;
/** The command line is wrong (unknown command or option, missing argument). */
export const EXIT_USAGE = 2;
/** Interrupted by Ctrl-C, as shells report a SIGINT death. */
export const EXIT_INTERRUPTED = 130;

/**
 * One exit status per error code, so scripts can branch on `$?` the way programs branch on `err.code`.
 * The numbers are part of the command's interface: append, never renumber.
 */
export const EXIT_CODES: Readonly<Record<StorageErrorCode, number>> = Object.freeze({
  NotFound: 3,
  PermissionDenied: 4,
  AuthenticationFailed: 5,
  Timeout: 6,
  Unavailable: 7,
  RateLimited: 8,
  SizeLimitExceeded: 9,
  InvalidId: 10,
  InvalidMetadata: 11,
  InvalidConfig: 12,
  Conflict: 13,
  DecryptionFailed: 14,
  Corrupted: 15,
  Aborted: 16,
  MissingDependency: 17,
  Unsupported: 18,
  Internal: 19,
});

const MEANING: Readonly<Record<StorageErrorCode, string>> = {
  NotFound: 'the credential does not exist (get, describe, delete)',
  PermissionDenied: 'the backend refused the operation (IAM, RBAC, Vault policy, file permissions)',
  AuthenticationFailed: 'bad or expired backend credentials, or a wrong passphrase',
  Timeout: 'the operation passed its deadline',
  Unavailable: 'the backend could not be reached or failed (after retries)',
  RateLimited: 'the backend throttled the requests (after retries)',
  SizeLimitExceeded: "the value or its metadata is larger than the backend's limit",
  InvalidId: 'the credential id is not valid',
  InvalidMetadata: 'a tag or the rotation interval is not valid for this backend',
  InvalidConfig: 'the config, key file or options are wrong (the message says which)',
  Conflict: 'a concurrent change, an existing id for put --new, or init over a different existing setup',
  DecryptionFailed: 'wrong key, or the stored data was altered',
  Corrupted: 'stored data is malformed, or a copy did not verify',
  Aborted: 'the operation was cancelled',
  MissingDependency: "the provider's optional SDK is not installed (the message has the npm command)",
  Unsupported: 'not supported by this backend or build',
  Internal: 'a bug: run again with --debug and report it',
};

/** A mistake on the command line: reported with a hint to `--help`, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The command whose help the message points to. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

/** Ctrl-C at a prompt. */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError';

  constructor() {
    super('interrupted');
  }
}

/** The exit status for anything thrown by a command. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT_USAGE;
  if (error instanceof InterruptedError) return EXIT_INTERRUPTED;
  if (isStorageError(error)) return EXIT_CODES[error.code] ?? EXIT_CODES.Internal;
  return EXIT_CODES.Internal;
}

/** One row of the exit-status table: the status, the error code it stands for (if any), what it means. */
export interface ExitStatusRow {
  status: number;
  code: StorageErrorCode | undefined;
  meaning: string;
}

/** Every exit status, in order: the table `--help` prints and docs/cli.md shows (a test keeps them equal). */
export function exitStatusRows(): ExitStatusRow[] {
  return [
    { status: EXIT_OK, code: undefined, meaning: 'success' },
    { status: EXIT_NO, code: undefined, meaning: 'exists: the credential does not exist' },
    {
      status: EXIT_USAGE,
      code: undefined,
      meaning: 'usage error: unknown command or option, missing or malformed argument',
    },
    ...Object.entries(EXIT_CODES).map(([code, status]) => ({
      status,
      code: code as StorageErrorCode,
      meaning: MEANING[code as StorageErrorCode],
    })),
    { status: EXIT_INTERRUPTED, code: undefined, meaning: 'interrupted (Ctrl-C at a prompt)' },
  ];
}

/** The table printed by `--help` and kept in docs/cli.md. */
export function exitCodeTable(): string {
  return exitStatusRows()
    .map(
      ({ status, code, meaning }) =>
        `  ${String(status).padStart(3)}  ${code === undefined ? meaning : `${code.padEnd(20)} ${meaning}`}`,
    )
    .join('\n');
}
