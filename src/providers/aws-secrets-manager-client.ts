import http from 'node:http';
import https from 'node:https';
import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { StorageError } from '../core/errors.js';
import type { AttemptContext } from '../core/operation.js';
import { assertSecureEndpoint, loadCaBundle } from '../core/transport-security.js';
import type { AwsResolvedOptions } from './aws-secrets-manager-options.js';

const PROVIDER = 'aws-secrets-manager';

/** The loaded SDK module. */
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

/**
 * Creates the SDK client: one retry layer (the core's), keep-alive agents with the CA bundle
 * (`tls`, else `AWS_CA_BUNDLE`), and the https-only rule on every endpoint source.
 *
 * @example
 * ```ts
 * const client = await createAwsClient(await import('@aws-sdk/client-secrets-manager'), resolved, signal);
 * ```
 */
export async function createAwsClient(
  sdk: Sdk,
  options: AwsResolvedOptions,
  signal?: AbortSignal,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SecretsManagerClient> {
  const fromEnvironment = options.endpoint === undefined ? environmentEndpoint(env) : undefined;
  if (fromEnvironment) {
    assertSecureEndpoint(fromEnvironment.url, {
      provider: PROVIDER,
      source: fromEnvironment.source,
      allowInsecureHttp: options.allowInsecureHttp,
    });
  }
  const ca = options.tls
    ? await loadCaBundle(options.tls, { provider: PROVIDER, signal })
    : await loadCaBundle(
        { caFile: env['AWS_CA_BUNDLE'] || undefined },
        { provider: PROVIDER, signal, fileSource: 'AWS_CA_BUNDLE' },
      );
  const { timeouts } = options.common;
  const config: SecretsManagerClientConfig = {
    // The core RetryPolicy is the only retry layer: one SDK attempt per core attempt.
    maxAttempts: 1,
    requestHandler: {
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets: options.maxSockets, ...(ca ? { ca } : {}) }),
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: options.maxSockets }),
      connectionTimeout: timeouts.connectMs,
    },
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
  };
  const explicit = options.credentials;
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
  client.middlewareStack.add(httpsOnlyGuard(options.allowInsecureHttp) as never, {
    step: 'finalizeRequest',
    name: 'nebulaCredentialHttpsOnly',
    priority: 'low',
  });
  return client;
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

/** Resolves the credential chain within the connect deadline, so a slow metadata probe fails fast. */
export async function resolveAwsCredentials(
  client: SecretsManagerClient,
  attempt: AttemptContext,
): Promise<void> {
  const provider = client.config.credentials as unknown as () => Promise<unknown>;
  const budget = Math.max(50, attempt.remainingMs() - 300);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new StorageError({
            code: 'AuthenticationFailed',
            message: `no AWS credentials resolved within ${budget} ms: set credentials, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile (instance metadata did not answer)`,
            provider: PROVIDER,
            operation: 'connect',
            details: { durationMs: budget },
          }),
        ),
      budget,
    );
    timer.unref?.();
  });
  try {
    await Promise.race([provider(), timeout]);
  } catch (error) {
    if (error instanceof StorageError) throw error;
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
