import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import type { Dispatcher } from 'undici';
import { StorageError } from '../core/errors.js';
import type { AttemptContext, StopSignal } from '../core/operation.js';
import { ResponseTooLargeError } from '../core/response-limit.js';
import { assertSecureEndpoint, loadCaBundle } from '../core/transport-security.js';
import type { UndiciModule } from '../core/undici-exchange.js';
import { CHAIN_STOP_SIGNAL } from './aws-credential-process.js';
import {
  type BoundedCredentialTransport,
  boundedDefaultProvider,
  credentialEndpointCut,
} from './aws-secrets-manager-auth.js';
import { UndiciSmithyHandler } from './aws-secrets-manager-http.js';
import { type AwsResolvedOptions, AWS_SECRETS_MANAGER as PROVIDER } from './aws-secrets-manager-options.js';

/** The loaded SDK module. @internal */
export type AwsSdk = typeof import('@aws-sdk/client-secrets-manager');
type Sdk = AwsSdk;

/**
 * The endpoint the SDK will use when the options name none, from the variables it reads (in its order),
 * checked against the https-only rule so a plain-http endpoint from the environment fails like an option.
 */
function environmentEndpoint(env: NodeJS.ProcessEnv): { url: string; source: string } | undefined {
  if (env['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'] === 'true') return undefined;
  for (const source of ['AWS_ENDPOINT_URL_SECRETS_MANAGER', 'AWS_ENDPOINT_URL']) {
    const url = env[source];
    if (url) return { url, source };
  }
  return undefined;
}

/** Where {@link createAwsClient} runs: the connect deadline, and where the CA file setting came from. */
export interface AwsClientContext {
  signal?: AbortSignal | undefined;
  /** The setting that named `tls.caFile` (`tls.caFile` or `AWS_CA_BUNDLE`), for messages. */
  caFileSource?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  /** Largest response body read (see `responseBodyLimit`); a larger one is cut and `SizeLimitExceeded`. */
  maxResponseBytes: number;
  /** undici, which the requests go out with (loaded as a peer, outside the connect deadline). */
  undici: UndiciModule;
}

/**
 * Creates the SDK client: one retry layer (the core's), keep-alive agents with the CA bundle (`tls`, whose
 * `caFile` falls back to `AWS_CA_BUNDLE`), and the https-only rule on every endpoint source.
 *
 * @example
 * ```ts
 * const client = await createAwsClient(await import('@aws-sdk/client-secrets-manager'), resolved,
 *   { signal, maxResponseBytes: responseBodyLimit(46_080), undici: await import('undici') });
 * ```
 *
 * @internal
 */
export async function createAwsClient(
  sdk: Sdk,
  options: AwsResolvedOptions,
  context: AwsClientContext,
): Promise<SecretsManagerClient> {
  const { signal, env = process.env } = context;
  const fromEnvironment = options.endpoint === undefined ? environmentEndpoint(env) : undefined;
  if (fromEnvironment) {
    assertSecureEndpoint(fromEnvironment.url, {
      provider: PROVIDER,
      source: fromEnvironment.source,
      allowInsecureHttp: options.dangerouslyAllowInsecureHttp,
    });
  }
  const ca = await loadCaBundle(options.tls, {
    provider: PROVIDER,
    signal,
    fileSource: context.caFileSource,
  });
  const { timeouts } = options;
  const cuts: BoundedCredentialTransport['cuts'] = { count: 0 };
  // A handler instance, not options: the default chain's STS client inherits it (parentClientConfig), and the
  // chain below gives it to the SSO client, so their answers are read through the same bound as Secrets
  // Manager's.
  const dispatcher = new context.undici.Agent({
    connections: options.maxSockets,
    // The operation's deadline is the one timeout for an answer; a connection gets the connect deadline.
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: { timeout: timeouts.connectMs, ...(ca ? { ca } : {}) },
  });
  const requestHandler = boundedRequestHandler(dispatcher, context.maxResponseBytes, cuts);
  const config: SecretsManagerClientConfig = {
    // The core RetryPolicy is the only retry layer: one SDK attempt per core attempt.
    maxAttempts: 1,
    // The SDK's own throughput switch (3.649+): each command class resolves its middleware stack once
    // instead of on every call. It needs calls without per-call options, so the stop reaches the handler
    // through the request (sendUntilStopped), not through `abortSignal`.
    cacheMiddleware: true,
    requestHandler: requestHandler as never,
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
  };
  const explicit = options.credentials;
  if (!explicit) {
    // The SDK's chain reads container and instance-metadata answers unbounded: the same chain, bounded.
    (config as { credentialDefaultProvider?: unknown }).credentialDefaultProvider = boundedDefaultProvider({
      requestHandler,
      limit: context.maxResponseBytes,
      cuts,
      processTimeoutMs: timeouts.connectMs,
    });
  }
  if (explicit) {
    config.credentials = async () => ({
      accessKeyId: explicit.accessKeyId,
      secretAccessKey: explicit.secretAccessKey.expose(),
      ...(explicit.sessionToken ? { sessionToken: explicit.sessionToken.expose() } : {}),
    });
  }
  let client: SecretsManagerClient;
  try {
    client = new sdk.SecretsManagerClient(config);
  } catch (error) {
    throw new StorageError({
      code: 'InvalidConfig',
      message: 'the AWS SDK refused the client configuration (region, endpoint or profile)',
      provider: PROVIDER,
      operation: 'connect',
      cause: error,
    });
  }
  // Innermost in the deserialize step, so the request it marks is the signed one the handler receives.
  client.middlewareStack.add(markStopSignal as never, {
    step: 'deserialize',
    name: 'nebulaCredentialStopSignal',
    priority: 'low',
  });
  client.middlewareStack.add(httpsOnlyGuard(options.dangerouslyAllowInsecureHttp) as never, {
    step: 'finalizeRequest',
    name: 'nebulaCredentialHttpsOnly',
    priority: 'low',
  });
  return client;
}

/** The stop of each call in flight, by its command's input (what every middleware sees as `args.input`). */
const stopSignals = new WeakMap<object, StopSignal>();
/** Where {@link markStopSignal} leaves a call's stop on its HTTP request for the bounded handler. */
const STOP_SIGNAL = Symbol('nebula-credential.stopSignal');

/**
 * Sends `command` so that the operation's stop (deadline or caller abort) destroys its HTTP request, without
 * the SDK's per-call `abortSignal` option: that option turns off the client's middleware cache and makes the
 * SDK race every call against the signal, which together cost more than the rest of the provider's work.
 *
 * @example
 * ```ts
 * const output = await sendUntilStopped(client, new sdk.GetSecretValueCommand({ SecretId: name }), attempt.stopSignal);
 * ```
 *
 * @internal
 */
export function sendUntilStopped<T>(
  client: SecretsManagerClient,
  command: { input: object },
  stop: StopSignal,
): Promise<T> {
  stopSignals.set(command.input, stop);
  return client.send(command as never) as Promise<T>;
}

function markStopSignal(next: (args: { input?: object; request?: object }) => Promise<unknown>) {
  return (args: { input?: object; request?: object }) => {
    const stop = args.input && stopSignals.get(args.input);
    if (stop && args.request) (args.request as Record<symbol, unknown>)[STOP_SIGNAL] = stop;
    return next(args);
  };
}

/** What this library uses of a smithy HTTP handler. */
interface SmithyHttpHandler {
  metadata?: unknown;
  handle(
    request: unknown,
    options?: unknown,
  ): Promise<{ response: { body?: unknown; headers?: Record<string, string> } }>;
  updateHttpClientConfig(key: never, value: never): void;
  httpHandlerConfigs(): unknown;
  destroy?(): void;
}

/**
 * The handler every client of the provider sends through (Secrets Manager, and the STS and SSO clients of
 * the default credential chain, which inherit or are given it): {@link UndiciSmithyHandler} over the
 * provider's one undici dispatcher, which reads each answer within the bound. It puts the operation's stop
 * (left on the request by {@link markStopSignal}) in place of the SDK's abort signal, and remembers a cut:
 * some clients (SSO) re-wrap it into a bare message, so the chain reports it from here.
 */
function boundedRequestHandler(
  dispatcher: Dispatcher,
  limit: number,
  cuts: BoundedCredentialTransport['cuts'],
): SmithyHttpHandler {
  const inner = new UndiciSmithyHandler(dispatcher, limit);
  return {
    metadata: inner.metadata,
    async handle(request, options) {
      const stop = (request as Record<symbol, StopSignal | undefined>)[STOP_SIGNAL];
      try {
        return await inner.handle(
          request as never,
          (stop ? { ...(options as object), abortSignal: stop } : options) as never,
        );
      } catch (error) {
        if (error instanceof ResponseTooLargeError) {
          cuts.count++;
          cuts.last = error;
        }
        throw error;
      }
    },
    updateHttpClientConfig: (key, value) => inner.updateHttpClientConfig(key, value),
    httpHandlerConfigs: () => inner.httpHandlerConfigs(),
    destroy: () => inner.destroy(),
  };
}

/**
 * The last check before a request leaves: the SDK can also take its endpoint from the shared config file
 * (`endpoint_url`), which no option or variable shows, so the resolved request itself is checked.
 */
function httpsOnlyGuard(allowInsecureHttp: boolean) {
  return (next: (args: { request: unknown }) => Promise<unknown>) => async (args: { request: unknown }) => {
    const { protocol, hostname = '' } = args.request as { protocol?: string; hostname?: string };
    if (protocol === 'http:') {
      const host = hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname;
      assertSecureEndpoint(`http://${host}`, {
        provider: PROVIDER,
        source: 'the endpoint the AWS SDK resolved (endpoint_url in the shared config file?)',
        allowInsecureHttp,
      });
    }
    return next(args);
  };
}

/**
 * Resolves the credential chain within the connect deadline, so a slow metadata probe fails fast. At the
 * deadline the chain's stop signal aborts first (a running credential_process is killed and fails with its
 * own Timeout), and the generic answer follows a turn later, for a chain still waiting on the network.
 *
 * @example
 * ```ts
 * await resolveAwsCredentials(client, attempt);
 * ```
 *
 * @internal
 */
export async function resolveAwsCredentials(
  client: SecretsManagerClient,
  attempt: AttemptContext,
): Promise<void> {
  const provider = client.config.credentials as unknown as (
    properties?: Record<string, unknown>,
  ) => Promise<unknown>;
  const budget = Math.max(50, attempt.remainingMs() - 300);
  const stop = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      stop.abort(
        new StorageError({
          code: 'Timeout',
          message: `the AWS default credential chain did not finish within ${budget} ms (the connect deadline); a running credential_process was stopped`,
          provider: PROVIDER,
          operation: 'connect',
          retryable: false,
          details: { durationMs: budget, source: 'credential_process' },
        }),
      );
      // A turn later: a step that stopped on the signal settles the race with its own error first.
      setImmediate(() =>
        reject(
          new StorageError({
            code: 'AuthenticationFailed',
            message: `no AWS credentials resolved within ${budget} ms: set credentials, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile (instance metadata did not answer)`,
            provider: PROVIDER,
            operation: 'connect',
            details: { durationMs: budget },
          }),
        ),
      );
    }, budget);
    timer.unref?.();
  });
  try {
    await Promise.race([provider({ [CHAIN_STOP_SIGNAL]: stop.signal }), timeout]);
  } catch (error) {
    if (error instanceof StorageError) throw error;
    const cut = credentialEndpointCut(error, 'STS (AWS_ENDPOINT_URL_STS)');
    if (cut) throw cut;
    throw new StorageError({
      code: 'AuthenticationFailed',
      message:
        'no AWS credentials found: set credentials in the options, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a profile in the shared credentials file (AWS_PROFILE)',
      provider: PROVIDER,
      operation: 'connect',
      details: { backendCode: (error as { name?: string } | null)?.name ?? 'CredentialsProviderError' },
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}
