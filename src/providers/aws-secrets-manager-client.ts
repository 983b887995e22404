import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { StorageError } from '../core/errors.js';
import type { AttemptContext } from '../core/operation.js';
import type { AwsResolvedOptions } from './aws-secrets-manager-options.js';

const PROVIDER = 'aws-secrets-manager';

/** The loaded SDK module. @internal */
export type AwsSdk = typeof import('@aws-sdk/client-secrets-manager');
type Sdk = AwsSdk;

/** The SDK client with the provider's transport, timeouts and credentials. @internal */
export async function createAwsClient(sdk: Sdk, options: AwsResolvedOptions): Promise<SecretsManagerClient> {
  const ca = await readCaBundle(options);
  const { timeouts } = options.common;
  const config: SecretsManagerClientConfig = {
    // The core RetryPolicy is the only retry layer: one SDK attempt per core attempt.
    maxAttempts: 1,
    requestHandler: {
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 50, ...(ca ? { ca } : {}) }),
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 50 }),
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
  try {
    return new sdk.SecretsManagerClient(config);
  } catch (error) {
    throw new StorageError({
      code: 'InvalidConfig',
      message: 'the AWS SDK refused the client configuration (region, endpoint or profile)',
      provider: PROVIDER,
      operation: 'connect',
      cause: error,
    });
  }
}

async function readCaBundle(options: AwsResolvedOptions): Promise<string | undefined> {
  if (options.caCertPem) return options.caCertPem;
  const path = options.caCertPath ?? process.env['AWS_CA_BUNDLE'];
  if (!path) return undefined;
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new StorageError({
      code: 'InvalidConfig',
      message: `cannot read the CA bundle ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); fix caCertPath or AWS_CA_BUNDLE`,
      provider: PROVIDER,
      operation: 'connect',
      details: { issues: [{ path: 'caCertPath', message: 'file cannot be read' }] },
      cause: error,
    });
  }
}

/** Resolves the credential chain within the connect deadline, so a slow metadata probe fails fast. @internal */
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
