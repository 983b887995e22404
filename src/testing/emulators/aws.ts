import { randomBytes, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { type Clock, systemClock } from '../../core/clock.js';
import {
  type CliEmulator,
  type CliEmulatorArgs,
  type RunningCliEmulator,
  startOrStop,
} from '../emulator-kit/cli-contract.js';
import { EmulatorHttpServer, type FaultInjector, type RecordedRequest } from '../emulator-kit/server.js';
import type { TestCertificateAuthority } from '../emulator-kit/tls.js';
import { AwsError, OPERATIONS, type Operation, SecretsManagerService } from './aws-service.js';
import { verifySigV4 } from './aws-sigv4.js';

/**
 * One access key the emulator accepts, with the actions it may call (IAM-style allow list).
 *
 * @example
 * ```ts
 * const readOnly: AwsEmulatorAccessKey = { accessKeyId: 'AKIAREADONLY00000001', secretAccessKey: 'secret',
 *   allow: ['secretsmanager:GetSecretValue', 'secretsmanager:Describe*'] };
 * ```
 */
export interface AwsEmulatorAccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  /** IAM user name shown in AccessDenied messages. Default `nebula-test`. */
  userName?: string | undefined;
  /**
   * Actions allowed, e.g. `['secretsmanager:GetSecretValue']`; `secretsmanager:*` or `*` allow all, and a
   * trailing `*` matches a prefix (`secretsmanager:Get*`). Default: all.
   */
  allow?: readonly string[] | undefined;
}

/**
 * Options of {@link AwsSecretsManagerEmulator}.
 *
 * @example
 * ```ts
 * import { AwsSecretsManagerEmulator, ManualClock } from 'nebula-credential/testing';
 * const emulator = new AwsSecretsManagerEmulator({ tls: true, region: 'eu-west-1', clock: new ManualClock(Date.now()) });
 * ```
 */
export interface AwsEmulatorOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number | undefined;
  /** Serve https with a generated CA (`true`) or a given one. Default false (plain http). */
  tls?: boolean | TestCertificateAuthority | undefined;
  /** Region the signatures must be scoped to. Default `us-east-1`. */
  region?: string | undefined;
  /** Account id in ARNs. Default `123456789012`. */
  accountId?: string | undefined;
  /** Access keys accepted. Default: one generated key with every action allowed. */
  accessKeys?: readonly AwsEmulatorAccessKey[] | undefined;
  /** Service time (creation dates, deletion windows). Signatures are checked against wall-clock time. */
  clock?: Clock | undefined;
}

/**
 * A loopback AWS Secrets Manager speaking the awsJson1_1 protocol (`POST /`, `X-Amz-Target:
 * secretsmanager.<Operation>`), verifying SigV4 signatures against its access keys, with AWS's error shapes
 * (`{"__type": ..., "Message": ...}`), idempotency tokens, version stages, deletion windows, pagination and
 * filters, a per-key allow list of actions (AccessDeniedException), fault injection and a controllable clock.
 *
 * @example
 * ```ts
 * import { AwsSecretsManagerEmulator } from 'nebula-credential/testing';
 * const emulator = new AwsSecretsManagerEmulator({ tls: true });
 * await emulator.start();
 * // new SecretsManagerClient({ region: emulator.region, endpoint: emulator.endpoint, credentials: emulator.credentials, ... })
 * emulator.throttle(2, 'GetSecretValue');
 * await emulator.stop();
 * ```
 */
export class AwsSecretsManagerEmulator {
  /** The HTTP(S) server: its recorded requests and fault queue. */
  readonly server: EmulatorHttpServer;
  /** The region the SDK must sign for (`us-east-1` by default). */
  readonly region: string;
  /** The account id in the ARNs it returns. */
  readonly accountId: string;
  /** Stamps times and decides when a deletion's recovery window has passed (a ManualClock in tests). */
  readonly clock: Clock;
  readonly #keys = new Map<string, AwsEmulatorAccessKey>();
  readonly #service: SecretsManagerService;
  readonly #primaryKey: AwsEmulatorAccessKey;
  #lostResponses: { remaining: number; operation: Operation | undefined }[] = [];

  /** An emulator with one access key (more with `options.keys`); nothing listens until `start()`. */
  constructor(options: AwsEmulatorOptions = {}) {
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '123456789012';
    this.clock = options.clock ?? systemClock;
    const keys = options.accessKeys ?? [
      {
        accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
        secretAccessKey: randomBytes(30).toString('base64'),
      },
    ];
    for (const key of keys) this.#keys.set(key.accessKeyId, key);
    this.#primaryKey = keys[0]!;
    this.#service = new SecretsManagerService({
      region: this.region,
      accountId: this.accountId,
      clock: this.clock,
    });
    this.server = new EmulatorHttpServer(
      { port: options.port, tls: options.tls, clock: this.clock },
      (request, response) => this.#handle(request, response),
    );
  }

  /** Listens on a loopback port and returns the endpoint to give the SDK. */
  async start(): Promise<{ endpoint: string }> {
    const { url } = await this.server.start();
    return { endpoint: url };
  }

  /** Closes every connection and stops listening. */
  stop(): Promise<void> {
    return this.server.stop();
  }

  /** The endpoint URL, for the SDK's `endpoint` option. */
  get endpoint(): string {
    return this.server.url;
  }

  /** PEM file of the generated CA (https mode). */
  get caCertPath(): string | undefined {
    return this.server.ca?.caCertPath;
  }

  /** The first access key's credentials, in the SDK's `credentials` shape. */
  get credentials(): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } {
    const { accessKeyId, secretAccessKey, sessionToken } = this.#primaryKey;
    return sessionToken === undefined
      ? { accessKeyId, secretAccessKey }
      : { accessKeyId, secretAccessKey, sessionToken };
  }

  /** The fault queue: statuses (503, 429 with Retry-After), resets, hangs, delays. */
  get faults(): FaultInjector {
    return this.server.faults;
  }

  /** Every request received, in order. */
  get requests(): readonly RecordedRequest[] {
    return this.server.requests;
  }

  /** TCP/TLS connections accepted so far (connection reuse). */
  get connections(): number {
    return this.server.connections;
  }

  /** Adds (or replaces) an access key. */
  addAccessKey(key: AwsEmulatorAccessKey): void {
    this.#keys.set(key.accessKeyId, key);
  }

  /** Deletes an access key: later requests signed with it fail with UnrecognizedClientException. */
  removeAccessKey(accessKeyId: string): void {
    this.#keys.delete(accessKeyId);
  }

  /** Sets the allow list of an access key (`undefined`: everything allowed). */
  setAllowedActions(accessKeyId: string, allow: readonly string[] | undefined): void {
    const key = this.#keys.get(accessKeyId);
    if (!key) throw new Error(`unknown access key ${accessKeyId}`);
    this.#keys.set(accessKeyId, { ...key, allow });
  }

  /** Requests received for `operation` (all when omitted), including refused and faulted ones. */
  count(operation?: Operation): number {
    return operation === undefined
      ? this.server.requests.length
      : this.server.count((r) => targetOf(r) === operation);
  }

  /**
   * The next `times` calls (of `operation`, or any) fail with 400 ThrottlingException, with a
   * `Retry-After` header when `retryAfterSeconds` is given.
   */
  throttle(times = 1, operation?: Operation, options: { retryAfterSeconds?: number } = {}): void {
    this.server.faults.add({
      action: {
        kind: 'status',
        status: 400,
        body: { __type: 'ThrottlingException', message: 'Rate exceeded' },
        headers: {
          'x-amzn-requestid': randomUUID(),
          ...(options.retryAfterSeconds === undefined
            ? {}
            : { 'retry-after': String(options.retryAfterSeconds) }),
        },
      },
      times,
      ...(operation ? { match: (r) => targetOf(r) === operation } : {}),
    });
  }

  /** The next `times` calls fail with 503 ServiceUnavailable (`reset`/`hang` for connection faults). */
  fail(kind: 'unavailable' | 'reset' | 'hang', times = 1, operation?: Operation): void {
    this.server.faults.add({
      action:
        kind === 'unavailable'
          ? {
              kind: 'status',
              status: 503,
              body: { __type: 'ServiceUnavailable', message: 'Service is unavailable. Try again later.' },
            }
          : { kind },
      times,
      ...(operation ? { match: (r) => targetOf(r) === operation } : {}),
    });
  }

  /**
   * The next `times` calls (of `operation`, or any) are carried out, but the connection is then reset
   * instead of answering: the client cannot tell whether the call took effect (idempotency tests).
   */
  loseResponse(times = 1, operation?: Operation): void {
    this.#lostResponses.push({ remaining: times, operation });
  }

  /** Number of versions a secret holds (deprecated ones included), or undefined when there is none. */
  versionCount(name: string): number | undefined {
    return this.#service.versionCount(name);
  }

  /** Names of all secrets, scheduled-for-deletion ones included (for assertions). */
  secretNames(): string[] {
    return this.#service.names();
  }

  /** A copy of a secret's tags, or undefined when there is no such secret. */
  tagsOf(name: string): Record<string, string> | undefined {
    return this.#service.tagsOf(name);
  }

  async #handle(request: RecordedRequest, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      response.writeHead(status, {
        'content-type': 'application/x-amz-json-1.1',
        'content-length': Buffer.byteLength(text),
        'x-amzn-requestid': requestId,
      });
      response.end(text);
    };
    try {
      if (request.method !== 'POST' || request.path !== '/') {
        throw new AwsError('UnknownOperationException', 'Unknown operation', 404);
      }
      const target = String(request.headers['x-amz-target'] ?? '');
      const verified = verifySigV4(request, {
        region: this.region,
        service: 'secretsmanager',
        now: Date.now(),
        lookupSecret: (id) => {
          const key = this.#keys.get(id);
          if (!key) return undefined;
          return key.sessionToken === undefined
            ? { secretAccessKey: key.secretAccessKey }
            : { secretAccessKey: key.secretAccessKey, sessionToken: key.sessionToken };
        },
      });
      if (!verified.ok) {
        send(400, { __type: verified.failure.code, message: verified.failure.message });
        return;
      }
      if (!target.startsWith('secretsmanager.')) {
        throw new AwsError('UnknownOperationException', 'Unknown operation');
      }
      const operation = target.slice('secretsmanager.'.length) as Operation;
      if (!OPERATIONS.includes(operation))
        throw new AwsError('UnknownOperationException', 'Unknown operation');
      let input: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(request.body.length ? request.body.toString('utf8') : '{}');
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
          throw new Error('not object');
        input = parsed as Record<string, unknown>;
      } catch {
        throw new AwsError('SerializationException', 'Start of structure or map found where not expected.');
      }
      this.#service.purgeExpired();
      this.#authorize(verified.accessKeyId, operation, input);
      const output = this.#service.dispatch(operation, input);
      const lost = this.#lostResponses.find((l) => l.operation === undefined || l.operation === operation);
      if (lost) {
        lost.remaining--;
        if (lost.remaining <= 0) this.#lostResponses.splice(this.#lostResponses.indexOf(lost), 1);
        response.socket?.destroy();
        return;
      }
      send(200, output);
    } catch (error) {
      if (error instanceof AwsError) {
        // Service errors use "Message"; the SDK accepts either casing.
        send(error.status, { __type: error.code, Message: error.message });
        return;
      }
      send(500, { __type: 'InternalServiceError', Message: 'An error occurred on the server side.' });
    }
  }

  #authorize(accessKeyId: string, operation: Operation, input: Record<string, unknown>): void {
    const key = this.#keys.get(accessKeyId)!;
    const action = `secretsmanager:${operation}`;
    const allowed =
      key.allow === undefined ||
      key.allow.some(
        (a) => a === '*' || a === action || (a.endsWith('*') && action.startsWith(a.slice(0, -1))),
      );
    if (allowed) return;
    const id = (input['SecretId'] ?? input['Name']) as string | undefined;
    const resource =
      operation === 'ListSecrets' || id === undefined
        ? '*'
        : (this.#service.arnOf(id) ?? `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${id}`);
    throw new AwsError(
      'AccessDeniedException',
      `User: arn:aws:iam::${this.accountId}:user/${key.userName ?? 'nebula-test'} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`,
    );
  }
}

function targetOf(request: RecordedRequest): string {
  return String(request.headers['x-amz-target'] ?? '').replace(/^secretsmanager\./, '');
}

/**
 * The `nebula-credential emulator aws` entry: starts an emulator (https with a generated CA unless
 * `--http`) and describes it, including the provider config that connects to it.
 *
 * @example
 * ```ts
 * import { cliEmulator } from 'nebula-credential/testing';
 * const running = await cliEmulator.start({ port: 0 });
 * console.log(JSON.stringify(running.info));
 * await running.stop();
 * ```
 */
export const cliEmulator: CliEmulator = {
  service: 'aws',
  async start(args: CliEmulatorArgs): Promise<RunningCliEmulator> {
    const emulator = new AwsSecretsManagerEmulator({ port: args.port, tls: !args.http });
    await startOrStop(emulator);
    const { accessKeyId, secretAccessKey } = emulator.credentials;
    const caCertPath = emulator.caCertPath;
    return {
      info: {
        service: 'aws',
        endpoint: emulator.endpoint,
        region: emulator.region,
        accessKeyId,
        secretAccessKey,
        ...(caCertPath ? { caCertPath } : {}),
        config: {
          provider: 'aws-secrets-manager',
          region: emulator.region,
          endpoint: emulator.endpoint,
          credentials: { accessKeyId, secretAccessKey },
          ...(caCertPath ? { tls: { caFile: caCertPath } } : {}),
        },
      },
      stop: () => emulator.stop(),
    };
  },
};
