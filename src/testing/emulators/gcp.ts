import { randomInt } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import { type Clock, systemClock } from '../../core/clock.js';
import {
  type CliEmulator,
  type CliEmulatorArgs,
  type RunningCliEmulator,
  startOrStop,
} from '../emulator-kit/cli-contract.js';
import {
  EmulatorHttpServer,
  type FaultAction,
  FaultInjector,
  type RecordedRequest,
} from '../emulator-kit/server.js';
import { createTestCertificateAuthority, type TestCertificateAuthority } from '../emulator-kit/tls.js';
import { type ApiRequest, type ApiResult, resourceOf, resultMessage, runRequest } from './gcp-api.js';
import {
  CLOUD_PLATFORM_SCOPE,
  GcpAuthority,
  type GcpCaller,
  type GcpServiceAccount,
  handleMetadataRequest,
} from './gcp-auth.js';
import { GcpGrpcTransport, type GrpcOutcome } from './gcp-grpc.js';
import { GCP_RPC_PERMISSIONS, GcpIam, type GcpRpc } from './gcp-iam.js';
import { restCallOf, sendNotFoundPage, sendRestError, sendRestJson } from './gcp-rest.js';
import { SecretManagerState } from './gcp-state.js';
import { GcpError, GRPC_CODES, type GrpcStatusName, statusForHttp } from './gcp-status.js';
import { GRPC_ENCODING, restEncoding } from './gcp-wire.js';

export type { GcpServiceAccount } from './gcp-auth.js';
export { GCP_RPC_PERMISSIONS, GCP_SECRET_MANAGER_ROLES, type GcpRpc } from './gcp-iam.js';

const SERVICE = 'google.cloud.secretmanager.v1.SecretManagerService';
const API_SERVICE = 'secretmanager.googleapis.com';

/** Options of {@link GcpSecretManagerEmulator}.
 *
 * @example
 * ```ts
 * const emulator = await new GcpSecretManagerEmulator({ projectId: 'acme', clock: new ManualClock(Date.now()) }).start();
 * ```
 */
export interface GcpSecretManagerEmulatorOptions {
  /** Port of the API (gRPC and REST on one TLS port, plus the OAuth token endpoint); 0 picks one. */
  port?: number | undefined;
  /** Port of the plain-http metadata server; 0 picks one. */
  metadataPort?: number | undefined;
  /** Time source for tokens, timestamps, expiry and delayed destruction. Default: the system clock. */
  clock?: Clock | undefined;
  /** Default `nebula-emulator`. */
  projectId?: string | undefined;
  /** The project number names are answered with. Default: a random 12-digit number. */
  projectNumber?: string | undefined;
  /** Lifetime of issued access tokens, in seconds. Default 3600. */
  tokenLifetimeSeconds?: number | undefined;
  /** Page size of list calls that give none (the real default is unspecified). Default 100. */
  defaultPageSize?: number | undefined;
  /** Name of the service account whose key file the emulator writes. Default `nebula-credential`. */
  serviceAccountName?: string | undefined;
}

/** One API call as the emulator received it, on either transport (refused and faulted ones included).
 *
 * @example
 * ```ts
 * const grpcReads = emulator.requests.filter((r: GcpRecordedRequest) => r.transport === 'grpc' && r.rpc === 'AccessSecretVersion');
 * ```
 */
export interface GcpRecordedRequest extends RecordedRequest {
  transport: 'grpc' | 'rest';
  rpc: GcpRpc;
}

/** Which API calls a fault helper affects.
 *
 * @example
 * ```ts
 * const options: GcpFaultOptions = { rpc: 'AccessSecretVersion', transport: 'grpc', times: 2 };
 * emulator.fail('unavailable', options);
 * ```
 */
export interface GcpFaultOptions {
  /** How many matching calls. Default 1; `Infinity` for all. */
  times?: number | undefined;
  /** Only calls of this RPC. */
  rpc?: GcpRpc | undefined;
  /** Only calls on this transport. */
  transport?: 'grpc' | 'rest' | undefined;
}

type Outcome =
  | { kind: 'ok'; result: ApiResult }
  | { kind: 'error'; error: GcpError }
  | { kind: 'fault'; action: Extract<FaultAction, { kind: 'status' }> }
  | { kind: 'reset' }
  | { kind: 'hang' };

const AUTH_HELP =
  'Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';

/**
 * A loopback Google Cloud Secret Manager that the real `@google-cloud/secret-manager` client, google-auth-library
 * and REST calls written from the public API reference use unchanged. One TLS port (its own CA) serves gRPC
 * (`google.cloud.secretmanager.v1.SecretManagerService`, from the SDK's own .proto files) and the REST API v1,
 * as `secretmanager.googleapis.com:443` does, with one shared state: secrets, numbered versions, `latest` and
 * aliases, etags, labels, annotations, expiry, disable/enable/destroy (delayed too), CRC32C checks, paging and
 * label filters, and the service's status codes with google.rpc details. The same port has the OAuth token
 * endpoint (JWT-bearer grant) of the service-account key file it writes; a plain-http metadata server serves
 * instance tokens. Tokens expire on the emulator's clock; IAM permissions per principal; fault injection on
 * both transports.
 *
 * @example
 * ```ts
 * import { GcpSecretManagerEmulator } from 'nebula-credential/testing';
 * const emulator = await new GcpSecretManagerEmulator().start();
 * console.log(emulator.grpcEndpoint, emulator.restEndpoint, emulator.credentialsFile, emulator.caCertPath);
 * emulator.iam.revoke(emulator.serviceAccount.email, 'secretmanager.versions.access');
 * emulator.throttle(2, { rpc: 'AccessSecretVersion' });
 * await emulator.stop();
 * ```
 */
export class GcpSecretManagerEmulator {
  /** The emulator's time source (token expiry, timestamps, TTLs, delayed destruction). */
  readonly clock: Clock;
  /** The generated CA and the API port's certificate. */
  readonly ca: TestCertificateAuthority;
  /** The project id names may use. */
  readonly projectId: string;
  /** The project number names are answered with. */
  readonly projectNumber: string;
  /** The secrets, shared by both transports. */
  readonly state: SecretManagerState;
  /** Service accounts, key files and tokens. */
  readonly auth: GcpAuthority;
  /** Permissions per principal. */
  readonly iam = new GcpIam();
  /** The HTTP/1.1 side of the API port: REST API and token endpoint. Its `faults` see raw HTTP requests. */
  readonly rest: EmulatorHttpServer;
  /** The metadata server (plain http). */
  readonly metadata: EmulatorHttpServer;
  /** Faults for API calls on both transports (see {@link fail}, {@link throttle}); matched with {@link GcpRecordedRequest}. */
  readonly faults = new FaultInjector();
  /** Every API call received, on both transports. */
  readonly requests: GcpRecordedRequest[] = [];
  /** The service account whose key file the emulator writes ({@link credentialsFile}). */
  readonly serviceAccount: GcpServiceAccount;
  /** The metadata server's default service account (`<number>-compute@developer.gserviceaccount.com`). */
  readonly computeServiceAccount: GcpServiceAccount;
  /** TLS connections accepted on the API port, by negotiated protocol. */
  readonly connections = { grpc: 0, rest: 0 };
  readonly #options: GcpSecretManagerEmulatorOptions;
  readonly #front: TlsServer;
  readonly #sockets = new Set<Socket>();
  readonly #byPeer = new Map<string, TLSSocket>();
  #lost: { remaining: number; match: (r: GcpRecordedRequest) => boolean }[] = [];
  #grpc: GcpGrpcTransport | undefined;
  #port = 0;

  /** Creates the CA, the service accounts and the servers; {@link start} listens. */
  constructor(options: GcpSecretManagerEmulatorOptions = {}) {
    this.#options = options;
    this.clock = options.clock ?? systemClock;
    this.projectId = options.projectId ?? 'nebula-emulator';
    this.projectNumber = options.projectNumber ?? String(randomInt(100_000_000_000, 999_999_999_999));
    this.ca = createTestCertificateAuthority();
    this.state = new SecretManagerState({
      projectId: this.projectId,
      projectNumber: this.projectNumber,
      clock: this.clock,
      defaultPageSize: options.defaultPageSize ?? 100,
    });
    this.auth = new GcpAuthority(this.clock, this.projectId, options.tokenLifetimeSeconds ?? 3600);
    this.serviceAccount = this.auth.createAccount(options.serviceAccountName ?? 'nebula-credential');
    this.computeServiceAccount = this.auth.createAccount(
      `${this.projectNumber}-compute@developer.gserviceaccount.com`,
    );
    for (const a of [this.serviceAccount, this.computeServiceAccount])
      this.iam.grant(a.email, 'roles/secretmanager.admin');
    this.rest = new EmulatorHttpServer({ clock: this.clock }, (req, res) => this.#handleRest(req, res));
    this.metadata = new EmulatorHttpServer({ port: options.metadataPort, clock: this.clock }, (req, res) =>
      handleMetadataRequest(req, res, {
        projectId: this.projectId,
        projectNumber: this.projectNumber,
        account: this.computeServiceAccount,
        scopes: [CLOUD_PLATFORM_SCOPE],
        authority: this.auth,
      }),
    );
    // ALPN picks the protocol: HTTP/1.1 (REST) when the client offers it, as curl offers both; gRPC
    // clients offer only h2. REST over HTTP/2 is not served.
    this.#front = createTlsServer(
      { cert: this.ca.serverCertPem, key: this.ca.serverKeyPem, ALPNProtocols: ['http/1.1', 'h2'] },
      (socket) => this.#accept(socket),
    );
    this.#front.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    this.#front.on('tlsClientError', () => {
      // A client that does not trust the CA aborts the handshake; that is its business.
    });
  }

  /** Loads the gRPC packages and the service's protos, then listens on loopback. */
  async start(): Promise<this> {
    this.#grpc = await GcpGrpcTransport.load((rpc, decode, metadata, peer) =>
      this.#handleGrpc(rpc, decode, metadata, peer),
    );
    await new Promise<void>((resolve, reject) => {
      this.#front.once('error', reject);
      this.#front.listen(this.#options.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.#port = (this.#front.address() as AddressInfo).port;
    await this.metadata.start();
    this.auth.writeKeyFile(this.serviceAccount.email, this.restEndpoint);
    return this;
  }

  /** Closes every connection and server. */
  async stop(): Promise<void> {
    this.#grpc?.stop();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#front.close(() => resolve()));
    await Promise.all([this.rest.stop(), this.metadata.stop()]);
  }

  /** The API port (gRPC, REST and the token endpoint). */
  get port(): number {
    if (!this.#port) throw new Error('emulator not started');
    return this.#port;
  }
  /** Base URL of the REST API, e.g. `https://127.0.0.1:41234` (paths start with `/v1/`). */
  get restEndpoint(): string {
    return `https://127.0.0.1:${this.port}`;
  }
  /** `host:port` of the gRPC service (the same port as REST). */
  get grpcEndpoint(): string {
    return `127.0.0.1:${this.port}`;
  }
  /** The OAuth token endpoint, the key file's `token_uri`. */
  get tokenUri(): string {
    return `${this.restEndpoint}/token`;
  }
  /** Path of {@link serviceAccount}'s key file (`GOOGLE_APPLICATION_CREDENTIALS`). */
  get credentialsFile(): string {
    return this.serviceAccount.keyFile;
  }
  /** The CA certificate file (PEM) clients trust. */
  get caCertPath(): string {
    return this.ca.caCertPath;
  }
  /** `host:port` of the metadata server, the value of `GCE_METADATA_HOST`. */
  get metadataHost(): string {
    return this.metadata.url.replace(/^http:\/\//, '');
  }

  /**
   * Environment that points Google's auth libraries at the metadata server: `GCE_METADATA_HOST`
   * (google-auth-library for Node), `GCE_METADATA_IP` and `GCE_METADATA_ROOT` (Python google-auth).
   */
  metadataEnvironment(): Record<string, string> {
    return {
      GCE_METADATA_HOST: this.metadataHost,
      GCE_METADATA_IP: this.metadataHost,
      GCE_METADATA_ROOT: this.metadataHost,
    };
  }

  /**
   * `GcpSecretManagerProvider` options that reach this emulator with its service-account key file.
   *
   * @example
   * ```ts
   * const config = { provider: 'gcp-secret-manager', ...emulator.providerOptions('rest') };
   * ```
   */
  providerOptions(transport: 'grpc' | 'rest' = 'grpc') {
    return {
      projectId: this.projectId,
      apiEndpoint: this.grpcEndpoint,
      credentialsFile: this.credentialsFile,
      tls: { caFile: this.caCertPath },
      transport,
    };
  }

  /** Creates another service account with its own key file and the given roles or permissions. */
  addServiceAccount(
    name: string,
    grants: readonly string[] = ['roles/secretmanager.admin'],
  ): GcpServiceAccount {
    const account = this.auth.createAccount(name);
    this.iam.set(account.email, grants);
    if (this.#port) this.auth.writeKeyFile(account.email, this.restEndpoint);
    return account;
  }

  /** An access token for a principal (default: {@link serviceAccount}), valid for the token lifetime. */
  issueAccessToken(email: string = this.serviceAccount.email, scopes?: readonly string[]): string {
    return this.auth.issueAccessToken(email, scopes).accessToken;
  }

  /** Number of API calls received (of one RPC and/or transport), refused and faulted ones included. */
  count(rpc?: GcpRpc, transport?: 'grpc' | 'rest'): number {
    return this.requests.filter((r) => (!rpc || r.rpc === rpc) && (!transport || r.transport === transport))
      .length;
  }

  /**
   * The next matching calls fail: `unavailable` (UNAVAILABLE, HTTP 503), `internal` (INTERNAL, 500),
   * `deadline` (DEADLINE_EXCEEDED, 504), `reset` (the connection is destroyed) or `hang` (never answered).
   */
  fail(
    kind: 'unavailable' | 'internal' | 'deadline' | 'reset' | 'hang',
    options: GcpFaultOptions = {},
  ): void {
    const errors: Record<string, [number, GcpError]> = {
      unavailable: [503, new GcpError('UNAVAILABLE', 'The service is currently unavailable.')],
      internal: [500, new GcpError('INTERNAL', 'Internal error encountered.')],
      deadline: [504, new GcpError('DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.')],
    };
    const error = errors[kind];
    this.#addFault(
      error ? { kind: 'status', status: error[0], body: error[1] } : { kind: kind as 'reset' | 'hang' },
      options,
    );
  }

  /**
   * The next matching calls are rate limited: RESOURCE_EXHAUSTED (HTTP 429) with a quota ErrorInfo, a
   * RetryInfo detail and, on REST, a `Retry-After` header.
   */
  throttle(times = 1, options: Omit<GcpFaultOptions, 'times'> & { retryAfterSeconds?: number } = {}): void {
    const retryAfter = options.retryAfterSeconds ?? 1;
    // Secret Manager has three request quotas: access (AccessSecretVersion), read (Get*, List*) and write.
    const rpc = options.rpc ?? 'AccessSecretVersion';
    const metric = rpc === 'AccessSecretVersion' ? 'Access' : /^(Get|List)/.test(rpc) ? 'Read' : 'Write';
    const error = new GcpError(
      'RESOURCE_EXHAUSTED',
      `Quota exceeded for quota metric '${metric} requests' and limit '${metric} requests per minute per project' of service '${API_SERVICE}' for consumer 'project_number:${this.projectNumber}'.`,
      [
        {
          type: 'ErrorInfo',
          reason: 'RATE_LIMIT_EXCEEDED',
          domain: 'googleapis.com',
          metadata: {
            service: API_SERVICE,
            consumer: `projects/${this.projectNumber}`,
            quota_metric: `${API_SERVICE}/${metric.toLowerCase()}_requests`,
            quota_limit: `${metric}RequestsPerMinutePerProject`,
            quota_location: 'global',
          },
        },
        {
          type: 'Help',
          links: [
            {
              description: 'Request a higher quota limit.',
              url: 'https://cloud.google.com/docs/quotas/help/request_increase',
            },
          ],
        },
        { type: 'RetryInfo', retryDelaySeconds: retryAfter },
      ],
    );
    this.#addFault(
      { kind: 'status', status: 429, body: error, headers: { 'retry-after': String(retryAfter) } },
      { ...options, times },
    );
  }

  /** The next matching calls are delayed by `ms` of real time, then served. */
  delay(ms: number, options: GcpFaultOptions = {}): void {
    this.#addFault({ kind: 'delay', ms }, options);
  }

  /**
   * The next matching calls are carried out, then the connection is destroyed instead of answering: the
   * client cannot tell whether the call took effect.
   */
  loseResponse(options: GcpFaultOptions = {}): void {
    this.#lost.push({ remaining: options.times ?? 1, match: this.#matcher(options) });
  }

  /** Creates a secret with one version, bypassing auth and IAM (for tests that need foreign data). */
  seedSecret(
    secretId: string,
    value: string | Buffer,
    extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
  ): void {
    const parent = `projects/${this.projectId}`;
    this.state.createSecret(parent, secretId, {
      replication: { automatic: {} },
      labels: extra.labels,
      annotations: extra.annotations,
    });
    this.state.addVersion(`${parent}/secrets/${secretId}`, Buffer.from(value), undefined);
  }

  /** Ids of the live secrets, sorted. */
  secretIds(): string[] {
    return this.state.secrets().map((s) => s.id);
  }

  #matcher(options: GcpFaultOptions): (r: GcpRecordedRequest) => boolean {
    return (r) =>
      (!options.rpc || r.rpc === options.rpc) && (!options.transport || r.transport === options.transport);
  }

  #addFault(action: FaultAction, options: GcpFaultOptions): void {
    const match = this.#matcher(options);
    this.faults.add({ action, times: options.times ?? 1, match: (r) => match(r as GcpRecordedRequest) });
  }

  // ---- the one pipeline both transports use --------------------------------------------------------

  async #serve(
    record: GcpRecordedRequest,
    decode: () => ApiRequest,
    authorization: string | undefined,
  ): Promise<Outcome> {
    this.requests.push(record);
    const action = this.faults.take(record);
    if (action?.kind === 'reset' || action?.kind === 'hang') return { kind: action.kind };
    if (action?.kind === 'status') return { kind: 'fault', action };
    if (action?.kind === 'delay') await new Promise((r) => setTimeout(r, action.ms));
    try {
      const caller = this.#authenticate(authorization, record.rpc);
      const request = decode();
      this.#authorize(caller, record.rpc, resourceOf(request));
      const result = runRequest(this.state, request);
      const lost = this.#lost.find((l) => l.match(record));
      if (lost) {
        if (--lost.remaining <= 0) this.#lost.splice(this.#lost.indexOf(lost), 1);
        return { kind: 'reset' };
      }
      return { kind: 'ok', result };
    } catch (error) {
      if (error instanceof GcpError) return { kind: 'error', error };
      throw error;
    }
  }

  #authenticate(authorization: string | undefined, rpc: GcpRpc): GcpCaller {
    const verdict = this.auth.authenticate(authorization);
    const errorInfo = (reason: string) => ({
      type: 'ErrorInfo' as const,
      reason,
      domain: 'googleapis.com',
      metadata: { method: `${SERVICE}.${rpc}`, service: API_SERVICE },
    });
    if (!verdict.ok) {
      if (verdict.reason === 'missing') {
        throw new GcpError(
          'UNAUTHENTICATED',
          `Request is missing required authentication credential. ${AUTH_HELP}`,
          [errorInfo('CREDENTIALS_MISSING')],
          {
            'www-authenticate': 'Bearer realm="https://accounts.google.com/"',
          },
        );
      }
      throw new GcpError(
        'UNAUTHENTICATED',
        `Request had invalid authentication credentials. ${AUTH_HELP}`,
        [errorInfo(verdict.reason === 'expired' ? 'ACCESS_TOKEN_EXPIRED' : 'ACCESS_TOKEN_TYPE_UNSUPPORTED')],
        { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
      );
    }
    if (!verdict.caller.scopes.includes(CLOUD_PLATFORM_SCOPE)) {
      throw new GcpError(
        'PERMISSION_DENIED',
        'Request had insufficient authentication scopes.',
        [errorInfo('ACCESS_TOKEN_SCOPE_INSUFFICIENT')],
        {
          'www-authenticate': `Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="${CLOUD_PLATFORM_SCOPE}"`,
        },
      );
    }
    return verdict.caller;
  }

  #authorize(caller: GcpCaller, rpc: GcpRpc, resource: string): void {
    const permission = GCP_RPC_PERMISSIONS[rpc];
    if (this.iam.allows(caller.email, permission)) return;
    throw new GcpError(
      'PERMISSION_DENIED',
      `Permission '${permission}' denied for resource '${resource.slice(0, 500)}' (or it may not exist).`,
      [
        {
          type: 'ErrorInfo',
          reason: 'IAM_PERMISSION_DENIED',
          domain: 'iam.googleapis.com',
          metadata: { permission, resource: resource.slice(0, 500) },
        },
      ],
    );
  }

  // ---- transports ----------------------------------------------------------------------------------

  #accept(socket: TLSSocket): void {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.#byPeer.set(peer, socket);
    socket.once('close', () => this.#byPeer.delete(peer));
    if (socket.alpnProtocol === 'h2') {
      this.connections.grpc++;
      this.#grpc!.injectConnection(socket);
    } else {
      this.connections.rest++;
      this.rest.serveConnection(socket, this.restEndpoint);
    }
  }

  async #handleRest(request: RecordedRequest, res: ServerResponse): Promise<void> {
    if (this.auth.handleTokenRequest(request, res, this.tokenUri)) return;
    const call = restCallOf(request);
    if (!call) {
      if (/^\/v1\/projects\/[^/]+\/locations\//.test(request.path)) {
        return sendRestError(
          res,
          new GcpError('UNIMPLEMENTED', 'Regional secrets (projects/*/locations/*) are not emulated.'),
        );
      }
      const unserved =
        /:(getIamPolicy|setIamPolicy|testIamPermissions|enableManagedRotation|rotateSecret)$/.exec(
          request.path,
        );
      if (unserved)
        return sendRestError(
          res,
          new GcpError('UNIMPLEMENTED', `The emulator does not implement ${unserved[1]}.`),
        );
      return sendNotFoundPage(res, request.path);
    }
    const token = request.query.get('access_token');
    const authorization = request.headers.authorization ?? (token ? `Bearer ${token}` : undefined);
    const outcome = await this.#serve(
      { ...request, transport: 'rest', rpc: call.rpc },
      call.decode,
      authorization,
    );
    switch (outcome.kind) {
      case 'ok':
        return sendRestJson(
          res,
          200,
          resultMessage(this.state, outcome.result, restEncoding(call.numericEnums)),
        );
      case 'error':
        return sendRestError(res, outcome.error);
      case 'reset':
        res.socket?.destroy();
        return;
      case 'hang':
        return;
      case 'fault': {
        const { status, body, headers = {} } = outcome.action;
        if (body instanceof GcpError) {
          sendRestError(
            res,
            new GcpError(body.status, body.message, body.details, { ...body.headers, ...headers }),
          );
          return;
        }
        res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
        res.end(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body));
      }
    }
  }

  async #handleGrpc(
    rpc: GcpRpc,
    decode: () => ApiRequest,
    metadata: Record<string, string>,
    peer: string,
  ): Promise<GrpcOutcome> {
    const path = `/${SERVICE}/${rpc}`;
    const record: GcpRecordedRequest = {
      method: 'POST',
      path,
      url: path,
      query: new URLSearchParams(),
      headers: metadata,
      body: Buffer.alloc(0),
      time: this.clock.now(),
      transport: 'grpc',
      rpc,
    };
    const outcome = await this.#serve(record, decode, metadata['authorization']);
    switch (outcome.kind) {
      case 'ok':
        return { kind: 'ok', message: resultMessage(this.state, outcome.result, GRPC_ENCODING) };
      case 'error':
        return outcome;
      case 'reset':
        this.#byPeer.get(peer)?.destroy();
        return outcome;
      case 'hang':
        return outcome;
      case 'fault':
        return { kind: 'error', error: faultError(outcome.action) };
    }
  }
}

/** A status fault as a GcpError: its own when built by a helper, else from a Google error body or the HTTP status. */
function faultError(action: Extract<FaultAction, { kind: 'status' }>): GcpError {
  if (action.body instanceof GcpError) return action.body;
  const error = (action.body as { error?: { status?: unknown; message?: unknown } } | undefined)?.error;
  const named =
    typeof error?.status === 'string' && error.status in GRPC_CODES
      ? (error.status as GrpcStatusName)
      : undefined;
  return new GcpError(
    named ?? statusForHttp(action.status),
    typeof error?.message === 'string' ? error.message : `HTTP ${action.status}`,
  );
}

/**
 * `npx nebula-credential emulator gcp`: starts the emulator and prints its endpoints, the service-account
 * key file, an access token valid for an hour and a provider config that connects to it.
 *
 * @example
 * ```ts
 * import { gcpCliEmulator } from 'nebula-credential/testing'; // this module's cliEmulator
 * const running = await gcpCliEmulator.start({ port: 0 });
 * console.log(JSON.stringify(running.info));
 * await running.stop();
 * ```
 */
export const cliEmulator: CliEmulator = {
  service: 'gcp',
  async start(args: CliEmulatorArgs): Promise<RunningCliEmulator> {
    // A start that fails (a busy port) stops what it set up, so the CLI can exit.
    const emulator = await startOrStop(new GcpSecretManagerEmulator({ port: args.port }));
    return {
      info: {
        service: 'gcp',
        projectId: emulator.projectId,
        projectNumber: emulator.projectNumber,
        restEndpoint: emulator.restEndpoint,
        grpcEndpoint: emulator.grpcEndpoint,
        tokenUri: emulator.tokenUri,
        caCertPath: emulator.caCertPath,
        credentialsFile: emulator.credentialsFile,
        serviceAccountEmail: emulator.serviceAccount.email,
        accessToken: emulator.issueAccessToken(),
        metadataHost: emulator.metadataHost,
        config: { provider: 'gcp-secret-manager', ...emulator.providerOptions() },
      },
      stop: () => emulator.stop(),
    };
  },
};
