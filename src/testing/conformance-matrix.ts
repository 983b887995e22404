import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ManualClock } from '../core/clock.js';
import { StorageError, type StorageErrorCode } from '../core/errors.js';
import type { CommonProviderOptions } from '../core/options.js';
import type { StorageProvider } from '../core/provider.js';
import type { RetryPolicy } from '../core/retry.js';
import type { ConformanceTestApi } from './conformance.js';
import { closedLoopbackPort } from './emulator-kit/server.js';

/**
 * The faults of the behaviour matrix, each injected the same way into every provider's emulator.
 *
 * @example
 * ```ts
 * const fault: BehaviourMatrixFault = 'untrusted-certificate';
 * ```
 */
export type BehaviourMatrixFault =
  | 'untrusted-certificate'
  | 'connection-refused'
  | 'unresolvable-host'
  | 'reset'
  | 'hang'
  | 'unavailable'
  | 'throttled'
  | 'credentials-rejected'
  | 'permission-denied'
  | 'not-found';

/**
 * What one fault must produce, on every provider: the `code`, `retryable`, the attempts the runner made,
 * and, where the fault decides them, the read requests the emulator counted and the waits the runner
 * scheduled (read from an injected ManualClock, never from wall-clock time).
 *
 * @example
 * ```ts
 * import { BEHAVIOUR_MATRIX } from 'nebula-credential/testing';
 * console.log(BEHAVIOUR_MATRIX.find((row) => row.fault === 'unavailable')?.attempts); // 3
 * ```
 */
export interface BehaviourMatrixRow {
  fault: BehaviourMatrixFault;
  /** The fault in the words of docs/errors.md. */
  title: string;
  /** How the suite makes it happen. */
  injected: string;
  /** The call that fails: `connect` for faults on the way to the service, else `retrieve`. */
  operation: 'connect' | 'retrieve';
  code: StorageErrorCode;
  retryable: boolean;
  /** `details.attempts` of the error. */
  attempts: number;
  /** Read requests the emulator receives during the failing call (0: nothing reached the service). */
  requests?: number | undefined;
  /** The delays the runner scheduled between the attempts, in ms. */
  waits?: readonly number[] | undefined;
  /** Detail fields the error must carry, with their values. */
  details?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * The retry policy of every matrix provider: 2 retries, 100 ms doubling, no jitter (exact waits).
 *
 * @example
 * ```ts
 * import { BEHAVIOUR_MATRIX_RETRY } from 'nebula-credential/testing';
 * console.log(1 + BEHAVIOUR_MATRIX_RETRY.maxRetries); // 3 attempts for a retryable fault
 * ```
 */
export const BEHAVIOUR_MATRIX_RETRY: Readonly<RetryPolicy> = Object.freeze({
  maxRetries: 2,
  baseDelayMs: 100,
  multiplier: 2,
  maxDelayMs: 20_000,
  jitter: 0,
});
/**
 * The options the behaviour matrix merges into each subject's provider options: the common ones, and the
 * pool size every network provider takes (`maxSockets`).
 *
 * @example
 * ```ts
 * import type { BehaviourMatrixOptions } from 'nebula-credential/testing';
 * const options: BehaviourMatrixOptions = { timeouts: { readMs: 400 }, maxSockets: 1 };
 * ```
 */
export type BehaviourMatrixOptions = CommonProviderOptions & { maxSockets?: number };

/**
 * Read deadline of the `hang` fault, in ms.
 *
 * @example
 * ```ts
 * import { BEHAVIOUR_MATRIX_READ_DEADLINE_MS } from 'nebula-credential/testing';
 * console.log(BEHAVIOUR_MATRIX_READ_DEADLINE_MS); // 400
 * ```
 */
export const BEHAVIOUR_MATRIX_READ_DEADLINE_MS = 400;
/**
 * The `Retry-After` of the `throttled` fault, in seconds.
 *
 * @example
 * ```ts
 * import { BEHAVIOUR_MATRIX_RETRY_AFTER_SECONDS } from 'nebula-credential/testing';
 * console.log(BEHAVIOUR_MATRIX_RETRY_AFTER_SECONDS * 1000); // the wait the runner must schedule: 2000
 * ```
 */
export const BEHAVIOUR_MATRIX_RETRY_AFTER_SECONDS = 2;
/**
 * The host of the `unresolvable-host` fault: `.invalid` is reserved never to resolve (RFC 6761).
 *
 * @example
 * ```ts
 * import { BEHAVIOUR_MATRIX_UNRESOLVABLE_HOST } from 'nebula-credential/testing';
 * console.log(`https://${BEHAVIOUR_MATRIX_UNRESOLVABLE_HOST}:8443`);
 * ```
 */
export const BEHAVIOUR_MATRIX_UNRESOLVABLE_HOST = 'nebula-credential-matrix.invalid';

const EVERY_TRY = 1 + BEHAVIOUR_MATRIX_RETRY.maxRetries;
const BACKOFF = Array.from(
  { length: BEHAVIOUR_MATRIX_RETRY.maxRetries },
  (_, n) => BEHAVIOUR_MATRIX_RETRY.baseDelayMs * BEHAVIOUR_MATRIX_RETRY.multiplier ** n,
);
const RETRY_AFTER_MS = BEHAVIOUR_MATRIX_RETRY_AFTER_SECONDS * 1000;

/**
 * The behaviour matrix: one row per fault, the same expectations for every provider. docs/errors.md shows
 * this table (checked by a test), so the documentation cannot drift from what the suite asserts.
 *
 * @example
 * ```ts
 * import { BEHAVIOUR_MATRIX } from 'nebula-credential/testing';
 * for (const row of BEHAVIOUR_MATRIX) console.log(row.title, row.code, row.retryable);
 * ```
 */
export const BEHAVIOUR_MATRIX: readonly BehaviourMatrixRow[] = Object.freeze([
  {
    fault: 'untrusted-certificate',
    title: 'untrusted server certificate',
    injected: "the emulator's https with a CA the client is not given",
    operation: 'connect',
    code: 'InvalidConfig',
    retryable: false,
    attempts: 1,
    requests: 0,
  },
  {
    fault: 'connection-refused',
    title: 'connection refused',
    injected: 'a closed loopback port',
    operation: 'connect',
    code: 'Unavailable',
    retryable: true,
    attempts: EVERY_TRY,
    waits: BACKOFF,
    details: { backendCode: 'ECONNREFUSED' },
  },
  {
    fault: 'unresolvable-host',
    title: 'host name does not resolve',
    injected: `${BEHAVIOUR_MATRIX_UNRESOLVABLE_HOST} (ENOTFOUND)`,
    operation: 'connect',
    code: 'Unavailable',
    retryable: false,
    attempts: 1,
    details: { backendCode: 'ENOTFOUND' },
  },
  {
    fault: 'reset',
    title: 'connection reset mid-request',
    injected: 'the emulator reads the request, then destroys the socket',
    operation: 'retrieve',
    code: 'Unavailable',
    retryable: true,
    attempts: EVERY_TRY,
    requests: EVERY_TRY,
    waits: BACKOFF,
  },
  {
    fault: 'hang',
    title: 'no answer before the deadline',
    injected: `the emulator never answers; read deadline ${BEHAVIOUR_MATRIX_READ_DEADLINE_MS} ms`,
    operation: 'retrieve',
    code: 'Timeout',
    retryable: false,
    attempts: 1,
    requests: 1,
    details: { durationMs: BEHAVIOUR_MATRIX_READ_DEADLINE_MS },
  },
  {
    fault: 'unavailable',
    title: '503 on every attempt',
    injected: "503 in the service's error format",
    operation: 'retrieve',
    code: 'Unavailable',
    retryable: true,
    attempts: EVERY_TRY,
    requests: EVERY_TRY,
    waits: BACKOFF,
    details: { status: 503 },
  },
  {
    fault: 'throttled',
    title: `throttled with Retry-After: ${BEHAVIOUR_MATRIX_RETRY_AFTER_SECONDS}`,
    injected: '429 (AWS: 400 ThrottlingException) with Retry-After, on every attempt',
    operation: 'retrieve',
    code: 'RateLimited',
    retryable: true,
    attempts: EVERY_TRY,
    requests: EVERY_TRY,
    waits: BACKOFF.map((delay) => Math.max(delay, RETRY_AFTER_MS)),
    details: { retryAfterMs: RETRY_AFTER_MS },
  },
  {
    fault: 'credentials-rejected',
    title: 'credentials rejected (401)',
    injected:
      'after connect: AWS key deleted, Azure 401, Vault token revoked (its 403), Kubernetes token revoked',
    operation: 'retrieve',
    code: 'AuthenticationFailed',
    retryable: false,
    attempts: 1,
  },
  {
    fault: 'permission-denied',
    title: 'permission denied (403)',
    injected: 'IAM action, Key Vault role, Vault policy or RBAC verb for reading removed',
    operation: 'retrieve',
    code: 'PermissionDenied',
    retryable: false,
    attempts: 1,
    requests: 1,
  },
  {
    fault: 'not-found',
    title: 'credential does not exist (404)',
    injected: 'retrieve of an id never stored',
    operation: 'retrieve',
    code: 'NotFound',
    retryable: false,
    attempts: 1,
    requests: 1,
  },
] satisfies BehaviourMatrixRow[]);

/**
 * Where a matrix provider connects.
 *
 * @example
 * ```ts
 * const target: BehaviourMatrixTarget = { kind: 'elsewhere', url: 'https://127.0.0.1:1' };
 * ```
 */
export type BehaviourMatrixTarget =
  /** The emulator, trusting its CA. */
  | { kind: 'emulator' }
  /** The emulator's https endpoint, without being given its CA. */
  | { kind: 'untrusted' }
  /** Another base URL (a closed port, an unresolvable host), with the emulator's CA. */
  | { kind: 'elsewhere'; url: string };

/**
 * A provider made for one matrix row, and the levers on its credentials.
 *
 * @example
 * ```ts
 * const subject: BehaviourMatrixSubject = {
 *   provider,
 *   rejectCredentials: () => k8s.revokeToken(token),
 *   denyReads: () => k8s.grant(namespace, 'app', ['list']),
 * };
 * ```
 */
export interface BehaviourMatrixSubject {
  /** Not connected yet: the matrix connects it (or expects connect to fail). */
  provider: StorageProvider;
  /** From now on the service rejects this provider's credentials (revoke the token, delete the key). */
  rejectCredentials(): void | Promise<void>;
  /** From now on the service denies this provider reading credentials. */
  denyReads(): void | Promise<void>;
  /** Undoes what the subject changed in the shared emulator. */
  dispose?(): void | Promise<void>;
}

/**
 * Read faults every adapter injects in its emulator's own fault style.
 *
 * @example
 * ```ts
 * const fault: BehaviourMatrixReadFault = { kind: 'throttled', retryAfterSeconds: 2 };
 * ```
 */
export type BehaviourMatrixReadFault =
  | { kind: 'reset' }
  | { kind: 'hang' }
  | { kind: 'unavailable' }
  | { kind: 'throttled'; retryAfterSeconds: number };

/**
 * What the matrix needs from one provider and its (already started) emulator; adding a provider to the
 * matrix is writing one of these, a few lines per member.
 *
 * @example
 * ```ts
 * // `vault` is a started VaultEmulator({ tls: true }); the test file starts and stops it.
 * const adapter: BehaviourMatrixAdapter = {
 *   name: 'hashicorp-vault',
 *   createSubject: (target, common) => ({ provider: new HashiCorpVaultProvider({ ...common, address: vault.url, auth: { token } }), ... }),
 *   injectReadFault: (fault) => vault.faults.add({ action: { kind: 'reset' }, times: Infinity }),
 *   clearFaults: () => vault.faults.clear(),
 *   readRequests: () => vault.count((r) => r.path.includes('/data/')),
 *   requests: () => vault.count(),
 *   permissionDetails: { capability: 'read' },
 * };
 * ```
 */
export interface BehaviourMatrixAdapter {
  /** The provider's name, as errors carry it. */
  name: string;
  /**
   * A fresh provider for `target`, built with `common` (clock, retry, timeouts, and for the hang a pool of
   * one socket) merged into its options.
   */
  createSubject(
    target: BehaviourMatrixTarget,
    common: BehaviourMatrixOptions,
  ): BehaviourMatrixSubject | Promise<BehaviourMatrixSubject>;
  /** Every later read of a credential meets `fault`, until {@link clearFaults}. */
  injectReadFault(fault: BehaviourMatrixReadFault): void;
  /** Removes the faults {@link injectReadFault} added: reads succeed again. */
  clearFaults(): void;
  /** Requests received so far that read a credential (what `retrieve` sends). */
  readRequests(): number;
  /** Requests received so far, of any kind. */
  requests(): number;
  /** Detail fields a `PermissionDenied` for reading must carry: the IAM action, role, capability or verb. */
  permissionDetails: Readonly<Record<string, unknown>>;
}

async function failure(promise: Promise<unknown>): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof StorageError, `expected a StorageError, got ${inspect(error)}`);
    return error;
  }
  return assert.fail('expected the call to fail');
}

async function targetFor(fault: BehaviourMatrixFault): Promise<BehaviourMatrixTarget> {
  if (fault === 'untrusted-certificate') return { kind: 'untrusted' };
  if (fault === 'connection-refused') {
    return { kind: 'elsewhere', url: `https://127.0.0.1:${await closedLoopbackPort()}` };
  }
  if (fault === 'unresolvable-host') {
    return { kind: 'elsewhere', url: `https://${BEHAVIOUR_MATRIX_UNRESOLVABLE_HOST}:8443` };
  }
  return { kind: 'emulator' };
}

const READ_FAULTS: Partial<Record<BehaviourMatrixFault, BehaviourMatrixReadFault>> = {
  reset: { kind: 'reset' },
  hang: { kind: 'hang' },
  unavailable: { kind: 'unavailable' },
  throttled: { kind: 'throttled', retryAfterSeconds: BEHAVIOUR_MATRIX_RETRY_AFTER_SECONDS },
};

async function runRow(adapter: BehaviourMatrixAdapter, row: BehaviourMatrixRow): Promise<void> {
  const clock = new ManualClock(Date.now(), { autoAdvance: true });
  const common: BehaviourMatrixOptions = {
    clock,
    retry: { ...BEHAVIOUR_MATRIX_RETRY },
    // One socket for the hang: the read after it can only go out if the hung request was destroyed at the
    // deadline, not left holding the pool's socket.
    ...(row.fault === 'hang'
      ? { timeouts: { readMs: BEHAVIOUR_MATRIX_READ_DEADLINE_MS }, maxSockets: 1 }
      : {}),
  };
  const subject = await adapter.createSubject(await targetFor(row.fault), common);
  const { provider } = subject;
  try {
    if (row.operation === 'retrieve') await provider.connect();
    const readFault = READ_FAULTS[row.fault];
    if (readFault) adapter.injectReadFault(readFault);
    if (row.fault === 'credentials-rejected') await subject.rejectCredentials();
    if (row.fault === 'permission-denied') await subject.denyReads();
    const before = { reads: adapter.readRequests(), all: adapter.requests(), sleeps: clock.sleeps.length };
    const error = await failure(
      row.operation === 'connect' ? provider.connect() : provider.retrieve('matrix_probe'),
    );
    const seen = `${error.code} (retryable ${error.retryable}, attempts ${error.details.attempts}): ${error.message}`;
    assert.equal(error.code, row.code, seen);
    assert.equal(error.retryable, row.retryable, seen);
    assert.equal(error.details.attempts, row.attempts, seen);
    assert.equal(error.provider, adapter.name, seen);
    assert.equal(error.operation, row.operation, seen);
    if (row.requests !== undefined) {
      const received =
        row.operation === 'connect' ? adapter.requests() - before.all : adapter.readRequests() - before.reads;
      assert.equal(received, row.requests, `requests the emulator received: ${seen}`);
    }
    if (row.waits !== undefined) assert.deepEqual(clock.sleeps.slice(before.sleeps), row.waits, seen);
    const details = row.fault === 'permission-denied' ? adapter.permissionDetails : (row.details ?? {});
    for (const [key, value] of Object.entries(details)) {
      assert.deepEqual(error.details[key], value, `details.${key}: ${seen}`);
    }
    if (row.fault === 'hang') {
      adapter.clearFaults();
      const next = await failure(provider.retrieve('matrix_probe'));
      assert.equal(next.code, 'NotFound', `the read after the hang: ${next.code}: ${next.message}`);
    }
  } finally {
    adapter.clearFaults();
    await subject.dispose?.();
    await provider.close();
  }
}

/**
 * Registers the behaviour matrix for one provider: every fault of {@link BEHAVIOUR_MATRIX}, injected into
 * its emulator through `adapter`, must give the row's code, `retryable`, attempts, requests and waits.
 * Start the emulator before these tests run (a `before` hook) and stop it after.
 *
 * @example
 * ```ts
 * import { describe, it } from 'node:test';
 * import { runBehaviourMatrix } from 'nebula-credential/testing';
 * runBehaviourMatrix({ describe, it }, vaultAdapter);
 * ```
 */
export function runBehaviourMatrix(api: ConformanceTestApi, adapter: BehaviourMatrixAdapter): void {
  api.describe(`${adapter.name}: behaviour matrix (the same fault gives the same error)`, () => {
    for (const row of BEHAVIOUR_MATRIX) {
      const attempts = `${row.attempts} attempt${row.attempts === 1 ? '' : 's'}`;
      api.it(`${row.title} → ${row.code}, retryable ${row.retryable}, ${attempts}`, () =>
        runRow(adapter, row),
      );
    }
  });
}

/**
 * The matrix as the Markdown table of docs/errors.md (a test compares the two).
 *
 * @example
 * ```ts
 * import { renderBehaviourMatrixTable } from 'nebula-credential/testing';
 * console.log(renderBehaviourMatrixTable());
 * ```
 */
export function renderBehaviourMatrixTable(): string {
  const header = [
    'fault',
    'how the suite injects it',
    'call',
    '`code`',
    '`retryable`',
    'attempts',
    'also asserted',
  ];
  const rows = BEHAVIOUR_MATRIX.map((row) => [
    row.title,
    row.injected,
    `\`${row.operation}\``,
    `\`${row.code}\``,
    row.retryable ? 'yes' : 'no',
    row.attempts === EVERY_TRY ? `1 + maxRetries (${row.attempts})` : String(row.attempts),
    alsoAsserted(row),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function alsoAsserted(row: BehaviourMatrixRow): string {
  const facts: string[] = [];
  if (row.requests === 0) facts.push('no request reaches the service');
  else if (row.requests !== undefined) {
    facts.push(`${row.requests} read request${row.requests === 1 ? '' : 's'} received`);
  }
  if (row.waits !== undefined) facts.push(`waits ${row.waits.join(', ')} ms`);
  if (row.fault === 'permission-denied')
    facts.push('the IAM action, Key Vault role, Vault capability or RBAC verb');
  for (const [key, value] of Object.entries(row.details ?? {}))
    facts.push(`\`${key}\` ${JSON.stringify(value)}`);
  if (row.fault === 'hang')
    facts.push('with a pool of one socket, the next read still goes out (`NotFound`)');
  return facts.join('; ');
}
