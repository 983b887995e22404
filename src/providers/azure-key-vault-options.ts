import { maxSocketsOption } from '../core/connection-pool.js';
import { defineProviderOptions, type OptionsOf, type SettingsOf } from '../core/options.js';
import { option } from '../core/options-schema.js';
import type { PeerPackage } from '../core/peer.js';
import {
  endpointSyntaxProblem,
  insecureHttpOption,
  isLoopbackHost,
  secureEndpointCheck,
  tlsOptions,
} from '../core/transport-security.js';

/**
 * The Azure Key Vault provider's name, as `createStorageProvider` takes it.
 *
 * @example
 * ```ts
 * import { AZURE_KEY_VAULT } from 'nebula-credential/azure';
 * const config = { provider: AZURE_KEY_VAULT, vaultUrl: 'https://my-vault.vault.azure.net' };
 * ```
 */
export const AZURE_KEY_VAULT = 'azure-key-vault';

/**
 * The SDKs this provider drives, loaded by `connect()` (optional peer dependencies). `identity` is not
 * needed when the options carry a ready `TokenCredential`.
 *
 * @example
 * ```ts
 * import { AZURE_KEY_VAULT_SDKS } from 'nebula-credential/azure';
 * console.log(Object.values(AZURE_KEY_VAULT_SDKS).map((p) => `${p.name}@${p.range}`).join(' '));
 * ```
 */
export const AZURE_KEY_VAULT_SDKS: { readonly secrets: PeerPackage; readonly identity: PeerPackage } = {
  secrets: {
    name: '@azure/keyvault-secrets',
    range: '^4.11.2',
    load: () => import('@azure/keyvault-secrets'),
  },
  identity: { name: '@azure/identity', range: '^4.13.1', load: () => import('@azure/identity') },
};

const MICROSOFT_AUTHORITIES = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);

/**
 * Any object with `getToken`, such as an `@azure/identity` credential: the structural form of the SDK's
 * `TokenCredential`, so these declarations do not need the SDK installed.
 *
 * @example
 * ```ts
 * const fixed: AzureTokenCredential = {
 *   getToken: async () => ({ token: 'eyJ...', expiresOnTimestamp: Date.now() + 3600_000 }),
 * };
 * ```
 */
export interface AzureTokenCredential {
  /** An access token for `scopes`, or null when the credential has none to give. */
  getToken(
    scopes: string | string[],
    options?: object,
  ): Promise<{
    token: string;
    expiresOnTimestamp: number;
    refreshAfterTimestamp?: number;
    tokenType?: string;
  } | null>;
}

/** The credential kinds, as named in `credential.type`.
 *
 * @example
 * ```ts
 * import { AZURE_CREDENTIAL_TYPES } from 'nebula-credential/azure';
 * console.log(AZURE_CREDENTIAL_TYPES.includes('managed-identity')); // true
 * ```
 */
export const AZURE_CREDENTIAL_TYPES = [
  'managed-identity',
  'client-secret',
  'client-certificate',
  'workload-identity',
  'developer',
] as const;

function hostOf(url: string | undefined): string {
  return url !== undefined && URL.canParse(url) ? new URL(url).hostname.toLowerCase() : '';
}

const tenantId = () => option.string({ doc: 'tenant (directory) id; default: the top-level `tenantId`' });
const clientId = (doc: string) => option.string({ doc });

/**
 * The Azure provider's options, declared once (type, validation, defaults, docs table).
 *
 * @example
 * ```ts
 * import { AZURE_KEY_VAULT_OPTIONS } from 'nebula-credential/azure';
 * const { values } = AZURE_KEY_VAULT_OPTIONS.resolve({ vaultUrl: 'https://v.vault.azure.net' });
 * console.log(values.credential); // { type: 'managed-identity' }
 * ```
 */
export const AZURE_KEY_VAULT_OPTIONS = defineProviderOptions(
  AZURE_KEY_VAULT,
  {
    vaultUrl: option.text({
      doc: "the vault's origin, `https://<name>.vault.azure.net`; `http://` only to a loopback host, unless `dangerouslyAllowInsecureHttp`",
      required: 'e.g. https://my-vault.vault.azure.net',
      check: (text) => {
        const problem = endpointSyntaxProblem(text);
        if (problem) return problem;
        const url = new URL(text);
        return url.pathname !== '/' || url.search || url.hash
          ? 'must be the vault origin only, without a path'
          : undefined;
      },
      map: (text) => new URL(text).origin,
    }),
    credential: option.tagged(
      'type',
      {
        'managed-identity': {
          clientId: clientId('client id of a user-assigned identity'),
          resourceId: option.string({ doc: 'resource id of a user-assigned identity' }),
          objectId: option.string({ doc: 'object id of a user-assigned identity' }),
        },
        'client-secret': {
          tenantId: tenantId(),
          clientId: option.string({ doc: 'application (client) id', required: true }),
          clientSecret: option.secret({ doc: 'client secret', required: true }),
        },
        'client-certificate': {
          tenantId: tenantId(),
          clientId: option.string({ doc: 'application (client) id', required: true }),
          certificatePath: option.path({ doc: 'PEM file with the private key and certificate' }),
          certificate: option.secret({ doc: 'the PEM text itself (private key and certificate)' }),
          sendCertificateChain: option.boolean({
            doc: 'send the x5c chain (subject name/issuer auth)',
            default: false,
          }),
        },
        'workload-identity': {
          tenantId: tenantId(),
          clientId: clientId('client id; default `AZURE_CLIENT_ID`'),
          tokenFilePath: option.path({ doc: 'federated token file; default `AZURE_FEDERATED_TOKEN_FILE`' }),
        },
        developer: { tenantId: tenantId() },
      },
      {
        doc: 'how to authenticate: a config object (see Authentication) or any `TokenCredential`',
        default: { type: 'managed-identity' as const },
        defaultDoc: "`{ type: 'managed-identity' }`",
        instance: {
          is: (value): value is AzureTokenCredential =>
            typeof (value as { getToken?: unknown } | null)?.getToken === 'function',
          rule: 'a TokenCredential',
        },
      },
    ),
    tenantId: option.string({
      doc: 'tenant for credential configs that give none (client secret, certificate, workload identity)',
      env: 'AZURE_TENANT_ID',
    }),
    authorityHost: option.text({
      doc: 'Microsoft Entra authority (https), for sovereign clouds or an emulator',
      pattern: /^https:\/\/[^\s]+$/,
      rule: 'an https:// URL',
      map: (text) => text.replace(/\/+$/, ''),
      defaultDoc: "the SDK's (`AZURE_AUTHORITY_HOST`, else the public cloud)",
    }),
    disableInstanceDiscovery: option.boolean({
      doc: 'skip Entra instance discovery',
      default: (s) =>
        s['authorityHost'] !== undefined && !MICROSOFT_AUTHORITIES.has(hostOf(s['authorityHost'] as string)),
      defaultDoc: 'true when `authorityHost` is not a Microsoft cloud host',
    }),
    additionallyAllowedTenants: option.stringList({
      doc: "tenants other than the credential's own that the vault's challenge may name (`['*']` for any)",
      default: [],
    }),
    tls: tlsOptions({
      caFile:
        'PEM file of an extra CA to trust (TLS inspection on a private endpoint, the emulator); applies to the vault and the token endpoint',
      ca: 'PEM text of CA certificates, trusted too (with or instead of `tls.caFile`)',
    }),
    dangerouslyAllowInsecureHttp: insecureHttpOption('the access token'),
    maxSockets: maxSocketsOption(),
    disableChallengeResourceVerification: option.boolean({
      doc: "skip the SDK's check that the challenge's resource matches the vault's domain",
      // Key Vault's resource check cannot pass on this machine's names (lowkey-vault serves <name>.localhost).
      default: (s) => {
        const host = hostOf(s['vaultUrl'] as string | undefined);
        return host !== '' && (isLoopbackHost(host) || host.endsWith('.localhost'));
      },
      defaultDoc: 'true for loopback and `.localhost` hosts, else false',
    }),
    prefix: option.string({
      doc: 'put before every secret name (`[0-9a-z-]`, up to 100 characters); ids get 127 minus its length',
      allowEmpty: true,
      pattern: /^[0-9a-z-]{0,100}$/,
      rule: 'at most 100 of 0-9, a-z and -',
      default: '',
    }),
    softDeletePolicy: option.enum(['recover', 'purge', 'fail'], {
      doc: "what `store` does on a soft-deleted name: `'recover'` it then write, `'purge'` it then write, or `'fail'` with `Conflict`",
      default: 'recover',
    }),
    serviceVersion: option.string({
      doc: 'the Key Vault api-version',
      defaultDoc: "the SDK's (`2025-07-01`; `2026-04-01` from 4.12)",
    }),
    pollIntervalMs: option.number({
      doc: 'interval of the delete and recover pollers, in ms',
      integer: true,
      min: 10,
      max: 60_000,
      default: 500,
    }),
  },
  {
    check: (values, report) => {
      secureEndpointCheck(values, ['vaultUrl'], report);
      const credential = values.credential as Record<string, unknown> | undefined;
      if (!credential || typeof credential['getToken'] === 'function') return;
      const type = credential['type'];
      if (type === 'managed-identity') {
        const ids = ['clientId', 'resourceId', 'objectId'].filter((k) => credential[k] !== undefined);
        if (ids.length > 1) report('credential', 'give at most one of clientId, resourceId and objectId');
      }
      if (
        (type === 'client-secret' || type === 'client-certificate') &&
        !credential['tenantId'] &&
        !values.tenantId
      ) {
        report('credential.tenantId', 'is required (or set tenantId or AZURE_TENANT_ID)');
      }
      if (
        type === 'client-certificate' &&
        (credential['certificatePath'] === undefined) === (credential['certificate'] === undefined)
      ) {
        report('credential', 'give exactly one of certificatePath and certificate');
      }
    },
  },
);

/**
 * Options of {@link AzureKeyVaultProvider}.
 *
 * @example
 * ```ts
 * import { AzureKeyVaultProvider } from 'nebula-credential/azure';
 * const provider = new AzureKeyVaultProvider({
 *   vaultUrl: 'https://my-vault.vault.azure.net',
 *   credential: { type: 'managed-identity' },
 *   prefix: 'billing-',
 * });
 * ```
 */
export type AzureKeyVaultOptions = OptionsOf<typeof AZURE_KEY_VAULT_OPTIONS>;

/** Options with defaults applied, as the provider uses them. */
export type AzureKeyVaultSettings = SettingsOf<typeof AZURE_KEY_VAULT_OPTIONS>;

/**
 * How the provider authenticates to Key Vault. Every form is plain JSON (so a config file or the CLI's
 * `--config` can carry it); a ready `TokenCredential` may be given instead.
 *
 * - `managed-identity`: the Azure host's identity (App Service, Functions, VMs, AKS with IMDS); no secret
 *   in the configuration. Give `clientId` (or `resourceId`/`objectId`) for a user-assigned identity.
 * - `client-secret` / `client-certificate`: a service principal (app registration).
 * - `workload-identity`: AKS workload identity (federated token file); fields default to the
 *   `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_FEDERATED_TOKEN_FILE` variables the webhook injects.
 * - `developer`: `DefaultAzureCredential`'s chain (environment, workload identity, managed identity, Azure
 *   CLI, Azure Developer CLI, Azure PowerShell) for local work.
 *
 * @example
 * ```ts
 * const credential: AzureCredentialConfig = { type: 'managed-identity', clientId: '00000000-0000-0000-0000-000000000001' };
 * ```
 */
export type AzureCredentialConfig = Exclude<
  NonNullable<AzureKeyVaultOptions['credential']>,
  AzureTokenCredential
>;

/** A credential config after validation: secrets are the provider's own `SecretString` copies. */
export type AzureCredentialSettings = Exclude<AzureKeyVaultSettings['credential'], AzureTokenCredential>;

/** The soft-delete policy of `store`.
 *
 * @example
 * ```ts
 * const policy: AzureSoftDeletePolicy = 'recover'; // recover, then write the new value as a new version
 * ```
 */
export type AzureSoftDeletePolicy = AzureKeyVaultSettings['softDeletePolicy'];
