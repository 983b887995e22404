import { join } from 'node:path';

/** Sets environment variables for the duration of `fn` (undefined unsets one), then restores every one. */
export async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

/**
 * Variables for `withEnv` that turn every source of the AWS default credential chain off (no keys, no files
 * under `dir`, no web identity, no container or instance metadata, no endpoint overrides), then `vars`.
 */
export function awsChainEnv(
  dir: string,
  vars: Record<string, string | undefined>,
): Record<string, string | undefined> {
  return {
    HOME: dir,
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_CONFIG_FILE: join(dir, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
    AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
    AWS_ROLE_ARN: undefined,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
    AWS_CONTAINER_AUTHORIZATION_TOKEN: undefined,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: undefined,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_EC2_METADATA_SERVICE_ENDPOINT: undefined,
    AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: undefined,
    AWS_EC2_METADATA_V1_DISABLED: undefined,
    AWS_ENDPOINT_URL: undefined,
    AWS_ENDPOINT_URL_SSO: undefined,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: undefined,
    ...vars,
  };
}
