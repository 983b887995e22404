import { maxSocketsOption } from '../core/connection-pool.js';
import type { StorageError } from '../core/errors.js';
import { defineProviderOptions, type OptionsOf, type SettingsOf } from '../core/options.js';
import { option } from '../core/options-schema.js';
import type { PeerPackage } from '../core/peer.js';
import {
  endpointSyntaxProblem,
  insecureHttpOption,
  secureEndpointCheck,
  tlsOptions,
} from '../core/transport-security.js';
import { AWS_NAME_CHARSET, assertAwsTags } from './aws-secrets-manager-names.js';

/**
 * The AWS Secrets Manager provider's name, as `createStorageProvider` takes it.
 *
 * @example
 * ```ts
 * import { AWS_SECRETS_MANAGER } from 'nebula-credential/aws';
 * const config = { provider: AWS_SECRETS_MANAGER, region: 'eu-west-1' };
 * ```
 */
export const AWS_SECRETS_MANAGER = 'aws-secrets-manager';

/**
 * The SDK this provider drives, loaded by `connect()` (an optional peer dependency).
 *
 * @example
 * ```ts
 * import { AWS_SECRETS_MANAGER_SDK } from 'nebula-credential/aws';
 * console.log(`npm install ${AWS_SECRETS_MANAGER_SDK.name}@${AWS_SECRETS_MANAGER_SDK.range}`);
 * ```
 */
export const AWS_SECRETS_MANAGER_SDK: PeerPackage = {
  name: '@aws-sdk/client-secrets-manager',
  range: '^3.700.0',
  load: () => import('@aws-sdk/client-secrets-manager'),
};

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
 * The AWS provider's options, declared once (type, validation, defaults, docs table). Region,
 * credentials and endpoint otherwise follow the SDK's own chains (`AWS_REGION`, `AWS_PROFILE`, ...).
 *
 * @example
 * ```ts
 * import { AWS_SECRETS_MANAGER_OPTIONS } from 'nebula-credential/aws';
 * console.log(AWS_SECRETS_MANAGER_OPTIONS.resolve({ region: 'eu-west-1' }).values.prefix); // nebula/credentials/
 * ```
 */
export const AWS_SECRETS_MANAGER_OPTIONS = defineProviderOptions(
  AWS_SECRETS_MANAGER,
  {
    region: option.string({
      doc: 'AWS region, e.g. `eu-west-1`',
      pattern: /^[a-z]{2,4}(-[a-z0-9]+)+-\d+$/,
      rule: 'an AWS region such as eu-west-1',
      defaultDoc: "the SDK's: `AWS_REGION`, then the profile's `region`",
    }),
    endpoint: option.string({
      doc: 'endpoint URL, for VPC interface endpoints or an emulator; `http://` only to a loopback host, unless `dangerouslyAllowInsecureHttp` (the same rule applies to `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL` and `endpoint_url`)',
      check: endpointSyntaxProblem,
      defaultDoc:
        'the regional endpoint (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, then `AWS_ENDPOINT_URL`, are honoured)',
    }),
    prefix: option.string({
      doc: 'put before every secret name; AWS name characters only',
      allowEmpty: true,
      maxLength: 256,
      pattern: AWS_NAME_CHARSET,
      rule: 'made of the characters AWS allows in secret names: letters, digits and / _ + = . @ -',
      default: AWS_DEFAULT_PREFIX,
    }),
    kmsKeyId: option.string({
      doc: 'KMS key (id, ARN or alias) for new secrets; existing secrets keep their key',
      maxLength: 2048,
      defaultDoc: "the account's `aws/secretsmanager` key",
    }),
    defaultTags: option.stringMap({
      doc: "tags put on every secret; a credential's own tag with the same key wins",
      default: {},
    }),
    credentials: option.object(
      {
        accessKeyId: option.string({
          doc: 'access key id',
          required: 'an access key id such as AKIA...',
          pattern: /^\w{1,128}$/,
          rule: 'an access key id such as AKIA...',
        }),
        secretAccessKey: option.secret({ doc: 'secret access key', required: true }),
        sessionToken: option.secret({ doc: 'session token of temporary credentials' }),
      },
      {
        optional: true,
        doc: 'explicit credentials (strings or `SecretString`); without them the SDK default chain applies',
      },
    ),
    profile: option.string({
      doc: 'profile of the shared config and credentials files, for the default chain',
      defaultDoc: '`AWS_PROFILE`, then `default`',
    }),
    tls: tlsOptions({
      caFile:
        "PEM file of the CA bundle to trust instead of Node's roots (TLS-inspecting proxies, private endpoints)",
      ca: 'PEM text of CA certificates, trusted too (with or instead of `tls.caFile`)',
      env: 'AWS_CA_BUNDLE',
      caFileDefault: "`AWS_CA_BUNDLE`, else Node's roots",
    }),
    dangerouslyAllowInsecureHttp: insecureHttpOption('the request signature and session token'),
    maxSockets: maxSocketsOption(),
    recoveryWindowInDays: option.number({
      doc: 'days a deleted credential stays recoverable (7 to 30)',
      integer: true,
      min: 7,
      max: 30,
      defaultDoc: "30 (AWS's default)",
    }),
    forceDelete: option.boolean({ doc: 'delete at once, without a recovery window', default: false }),
    restoreOnStore: option.boolean({
      doc: '`store` over a name scheduled for deletion restores it and writes the new value instead of failing with `Conflict`',
      default: false,
    }),
  },
  {
    check: (values, report) => {
      try {
        assertAwsTags(values.defaultTags ?? {}, { provider: AWS_SECRETS_MANAGER });
      } catch (error) {
        for (const problem of ((error as StorageError).details['problems'] as string[] | undefined) ?? []) {
          report('defaultTags', problem);
        }
      }
      secureEndpointCheck(values, ['endpoint'], report);
      if (values.credentials !== undefined && values.profile !== undefined) {
        report('profile', 'a profile applies to the default chain only; drop it or drop credentials');
      }
      if (values.forceDelete && values.recoveryWindowInDays !== undefined) {
        report(
          'forceDelete',
          'forceDelete deletes without a recovery window; drop recoveryWindowInDays or forceDelete',
        );
      }
    },
  },
);

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
export type AwsSecretsManagerOptions = OptionsOf<typeof AWS_SECRETS_MANAGER_OPTIONS>;

/** The provider's options after validation, with defaults applied. */
export type AwsResolvedOptions = SettingsOf<typeof AWS_SECRETS_MANAGER_OPTIONS>;
