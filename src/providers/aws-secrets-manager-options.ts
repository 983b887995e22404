import { readMaxSockets } from '../core/connection-pool.js';
import type { StorageError } from '../core/errors.js';
import { type CommonProviderOptions, OptionsValidator, type ResolvedCommonOptions } from '../core/options.js';
import { SecretString } from '../core/secret-string.js';
import { readEndpointOption, readTlsOptions, type TlsTrustOptions } from '../core/transport-security.js';
import { AWS_NAME_CHARSET, assertAwsTags } from './aws-secrets-manager-names.js';

const PROVIDER = 'aws-secrets-manager';
/**
 * The default secret name prefix.
 *
 * @example
 * ```ts
 * import { AWS_DEFAULT_PREFIX } from 'nebula-credential/aws';
 * console.log(`${AWS_DEFAULT_PREFIX}github_token`); // nebula/credentials/github_token
 * ```
 */
export const AWS_DEFAULT_PREFIX = 'nebula/credentials/';

/**
 * Options of {@link AwsSecretsManagerProvider}.
 *
 * @example
 * ```ts
 * const options: AwsSecretsManagerOptions = {
 *   region: 'eu-west-1',
 *   prefix: 'payments/credentials/',
 *   kmsKeyId: 'alias/payments-secrets',
 *   defaultTags: { team: 'payments' },
 *   recoveryWindowInDays: 7,
 * };
 * ```
 */
export interface AwsSecretsManagerOptions extends CommonProviderOptions {
  /** AWS region, e.g. `eu-west-1`. @default the SDK's resolution: `AWS_REGION`, then the profile's `region` */
  region?: string | undefined;
  /**
   * Endpoint URL, for VPC interface endpoints or an emulator. `http://` only to a loopback host, unless
   * `dangerouslyAllowInsecureHttp`; the same rule applies to `AWS_ENDPOINT_URL_SECRETS_MANAGER` and `AWS_ENDPOINT_URL`.
   * @default the regional public endpoint (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, then `AWS_ENDPOINT_URL`, are honoured)
   */
  endpoint?: string | undefined;
  /** Text put before every secret name (AWS name characters only). @default `nebula/credentials/` */
  prefix?: string | undefined;
  /** KMS key (id, ARN or alias) used when a secret is created. @default the account's `aws/secretsmanager` key */
  kmsKeyId?: string | undefined;
  /** Tags put on every secret besides the credential's own (which win on a clash). @default `{}` */
  defaultTags?: Record<string, string> | undefined;
  /**
   * Explicit credentials; without them the SDK's default chain applies (environment, shared config and
   * credentials files with `profile`, web identity, SSO, container and instance metadata).
   * @default the default provider chain
   */
  credentials?:
    | {
        accessKeyId: string;
        secretAccessKey: string | SecretString;
        sessionToken?: string | SecretString | undefined;
      }
    | undefined;
  /** Profile of the shared config/credentials files for the default chain. @default `AWS_PROFILE`, then `default` */
  profile?: string | undefined;
  /** CA bundle to trust instead of Node's roots: a PEM file (`caFile`) and/or PEM text (`ca`). @default `AWS_CA_BUNDLE` when set, else Node's roots */
  tls?: TlsTrustOptions | undefined;
  /** Allow a plain `http://` endpoint to a host that is not loopback (the request signature and session token cross the network in clear). @default false */
  dangerouslyAllowInsecureHttp?: boolean | undefined;
  /** Most sockets the HTTP agent keeps open to the backend at once (1-1024); calls beyond it queue. @default 50 */
  maxSockets?: number | undefined;
  /** Days a deleted credential stays recoverable (7 to 30). @default 30 (AWS's default) */
  recoveryWindowInDays?: number | undefined;
  /** Delete immediately, without a recovery window. @default false */
  forceDelete?: boolean | undefined;
  /**
   * When `store` meets a secret scheduled for deletion under the same name, restore it and write the new
   * value instead of failing with `Conflict`. @default false
   */
  restoreOnStore?: boolean | undefined;
}

/** Explicit credentials, with the secret parts held as {@link SecretString}. */
export interface AwsExplicitCredentials {
  accessKeyId: string;
  secretAccessKey: SecretString;
  sessionToken: SecretString | undefined;
}

/** The provider's options after validation, with defaults applied. */
export interface AwsResolvedOptions {
  common: ResolvedCommonOptions;
  prefix: string;
  region: string | undefined;
  endpoint: string | undefined;
  kmsKeyId: string | undefined;
  defaultTags: Record<string, string>;
  profile: string | undefined;
  tls: TlsTrustOptions | undefined;
  allowInsecureHttp: boolean;
  recoveryWindowInDays: number;
  maxSockets: number;
  forceDelete: boolean;
  restoreOnStore: boolean;
  credentials: AwsExplicitCredentials | undefined;
}

/**
 * Validates the options (every problem reported at once as `InvalidConfig`) and applies the defaults.
 *
 * @example
 * ```ts
 * import { resolveAwsOptions } from './aws-secrets-manager-options.js';
 * const resolved = resolveAwsOptions({ region: 'eu-west-1' });
 * console.log(resolved.prefix); // nebula/credentials/
 * ```
 */
export function resolveAwsOptions(options: AwsSecretsManagerOptions): AwsResolvedOptions {
  const v = new OptionsValidator(PROVIDER, options);
  v.noUnknownKeys([
    'region',
    'endpoint',
    'prefix',
    'kmsKeyId',
    'defaultTags',
    'credentials',
    'profile',
    'tls',
    'dangerouslyAllowInsecureHttp',
    'maxSockets',
    'recoveryWindowInDays',
    'forceDelete',
    'restoreOnStore',
  ]);
  const region = v.string('region', {
    nonEmpty: true,
    pattern: /^[a-z]{2,4}(-[a-z0-9]+)+-\d+$/,
    rule: 'an AWS region such as eu-west-1',
  });
  const { text: endpoint, allowInsecureHttp } = readEndpointOption(v, 'endpoint');
  const prefix =
    v.string('prefix', {
      maxLength: 256,
      pattern: AWS_NAME_CHARSET,
      rule: 'made of the characters AWS allows in secret names: letters, digits and / _ + = . @ -',
    }) ?? AWS_DEFAULT_PREFIX;
  const kmsKeyId = v.string('kmsKeyId', { nonEmpty: true, maxLength: 2048 });
  const defaultTags = v.stringMap('defaultTags') ?? {};
  try {
    assertAwsTags(defaultTags, { provider: PROVIDER });
  } catch (error) {
    for (const problem of ((error as StorageError).details['problems'] as string[] | undefined) ?? []) {
      v.add('defaultTags', problem);
    }
  }
  const credentials = readCredentials(v);
  const profile = v.string('profile', { nonEmpty: true });
  const tls = readTlsOptions(v);
  if (credentials !== undefined && profile !== undefined) {
    v.add('profile', 'a profile applies to the default chain only; drop it or drop credentials');
  }
  const window = v.number('recoveryWindowInDays', { min: 7, max: 30, integer: true });
  const forceDelete = v.boolean('forceDelete') ?? false;
  if (forceDelete && window !== undefined) {
    v.add(
      'forceDelete',
      'forceDelete deletes without a recovery window; drop recoveryWindowInDays or forceDelete',
    );
  }
  const restoreOnStore = v.boolean('restoreOnStore') ?? false;
  const maxSockets = readMaxSockets(v);
  const common = v.common();
  v.throwIfInvalid();
  return {
    common,
    prefix,
    region,
    endpoint,
    kmsKeyId,
    defaultTags: { ...defaultTags },
    profile,
    tls,
    allowInsecureHttp,
    recoveryWindowInDays: window ?? 30,
    maxSockets,
    forceDelete,
    restoreOnStore,
    credentials,
  };
}

function readCredentials(
  v: OptionsValidator,
):
  | { accessKeyId: string; secretAccessKey: SecretString; sessionToken: SecretString | undefined }
  | undefined {
  const raw = v.get('credentials');
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null) {
    v.add('credentials', 'must be an object with accessKeyId and secretAccessKey');
    return undefined;
  }
  const accessKeyId = v.string('credentials.accessKeyId', {
    required: true,
    pattern: /^\w{1,128}$/,
    rule: 'an access key id such as AKIA...',
  });
  const secret = (raw as Record<string, unknown>)['secretAccessKey'];
  const token = (raw as Record<string, unknown>)['sessionToken'];
  const asSecret = (value: unknown, path: string, required: boolean): SecretString | undefined => {
    if (value instanceof SecretString) return value;
    if (typeof value === 'string' && value.length > 0) return new SecretString(value);
    if (value !== undefined || required) v.add(path, 'must be a non-empty string or SecretString');
    return undefined;
  };
  const secretAccessKey = asSecret(secret, 'credentials.secretAccessKey', true);
  const sessionToken = asSecret(token, 'credentials.sessionToken', false);
  for (const key of Object.keys(raw)) {
    if (!['accessKeyId', 'secretAccessKey', 'sessionToken'].includes(key))
      v.add(`credentials.${key}`, 'unknown option');
  }
  if (accessKeyId === undefined || secretAccessKey === undefined) return undefined;
  return { accessKeyId, secretAccessKey, sessionToken };
}
