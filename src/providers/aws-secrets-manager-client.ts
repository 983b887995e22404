import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { StorageError } from '../core/errors.js';
import type { AttemptContext } from '../core/operation.js';
import { type AwsResolvedOptions, AWS_SECRETS_MANAGER as PROVIDER } from './aws-secrets-manager-options.js';

/** The loaded SDK module. */
export type AwsSdk = typeof import('@aws-sdk/client-secrets-manager');
type Sdk = AwsSdk;

export async function createAwsClient(sdk: Sdk, options: AwsResolvedOptions): Promise<SecretsManagerClient> {
  const ca = await readCaBundle(options);
  const { timeouts } = options;
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
  if (options.tls.ca) return options.tls.ca;
  const path = options.tls.caFile;
  if (!path) return undefined;
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new StorageError({
      code: 'InvalidConfig',
      message: `cannot read the CA bundle ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); fix tls.caFile or AWS_CA_BUNDLE`,
      provider: PROVIDER,
      operation: 'connect',
      details: { issues: [{ path: 'tls.caFile', message: 'file cannot be read' }] },
      cause: error,
    });
  }
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
