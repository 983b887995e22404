import type { TokenCredential } from '@azure/identity';
import { readMaxSockets } from '../core/connection-pool.js';
import type { CommonProviderOptions, OptionsValidator } from '../core/options.js';
import { SecretString } from '../core/secret-string.js';
import {
  isLoopbackHost,
  readEndpointOption,
  readTlsOptions,
  type TlsTrustOptions,
} from '../core/transport-security.js';
import { AZURE_CREDENTIAL_TYPES, type AzureCredentialConfig } from './azure-key-vault-auth.js';

const MICROSOFT_AUTHORITIES = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);

/** What `store` does when the secret's name belongs to a soft-deleted secret.
 *
 * @example
 * ```ts
 * const policy: AzureSoftDeletePolicy = 'recover'; // recover, then write the new value as a new version
 * ```
 */
export type AzureSoftDeletePolicy = 'recover' | 'purge' | 'fail';

/**
 * Options of {@link AzureKeyVaultProvider}.
 *
 * @example
 * ```ts
 * import { AzureKeyVaultProvider } from 'nebula-credential/azure';
 * const provider = new AzureKeyVaultProvider({
 *   vaultUrl: 'https://my-vault.vault.azure.net',
 *   credential: { type: 'managed-identity' },
 *   namePrefix: 'billing-',
 * });
 * ```
 */
export interface AzureKeyVaultOptions extends CommonProviderOptions {
  /** The vault's URL, e.g. `https://my-vault.vault.azure.net`. Required; `http://` only to a loopback host unless `dangerouslyAllowInsecureHttp`. */
  vaultUrl: string;
  /**
   * How to authenticate: a config object (see {@link AzureCredentialConfig}) or any `TokenCredential`.
   * @default { type: 'managed-identity' }
   */
  credential?: AzureCredentialConfig | TokenCredential | undefined;
  /** Tenant for credentials whose config gives none (client secret, certificate, workload identity). */
  tenantId?: string | undefined;
  /** Microsoft Entra authority (https), for sovereign clouds or an emulator. @default the SDK's (`AZURE_AUTHORITY_HOST` or public cloud) */
  authorityHost?: string | undefined;
  /** Skip Entra instance discovery. @default true when `authorityHost` is not a Microsoft cloud host */
  disableInstanceDiscovery?: boolean | undefined;
  /** Tenants other than the credential's own that the vault's challenge may name (`['*']` for any). @default [] */
  additionallyAllowedTenants?: string[] | undefined;
  /** CA to trust for the vault and the token endpoint (TLS inspection on a private endpoint, emulators): a PEM file (`caFile`) and/or PEM text (`ca`). @default Node's roots */
  tls?: TlsTrustOptions | undefined;
  /** Allow an `http://` vaultUrl to a host that is not loopback (the access token crosses the network in clear). @default false */
  dangerouslyAllowInsecureHttp?: boolean | undefined;
  /** Most sockets the HTTP agent keeps open to the backend at once (1-1024); calls beyond it queue. @default 50 */
  maxSockets?: number | undefined;
  /** Skip the check that the challenge resource matches the vault's domain. @default true for loopback hosts, else false */
  disableChallengeResourceVerification?: boolean | undefined;
  /** Text put before every secret name (`[0-9a-z-]`); ids get 127 minus its length. @default '' */
  namePrefix?: string | undefined;
  /** `store` on a soft-deleted name: recover it then write, purge it then write, or fail with `Conflict`. @default 'recover' */
  softDeletePolicy?: AzureSoftDeletePolicy | undefined;
  /** Key Vault api-version. @default the SDK's (2025-07-01 for 4.11) */
  serviceVersion?: string | undefined;
  /** Interval of the delete and recover pollers, in ms. @default 500 */
  pollIntervalMs?: number | undefined;
}

export const AZURE_OPTION_KEYS = [
  'vaultUrl',
  'credential',
  'tenantId',
  'authorityHost',
  'disableInstanceDiscovery',
  'additionallyAllowedTenants',
  'tls',
  'dangerouslyAllowInsecureHttp',
  'maxSockets',
  'disableChallengeResourceVerification',
  'namePrefix',
  'softDeletePolicy',
  'serviceVersion',
  'pollIntervalMs',
];

/** Options with defaults applied, as the provider uses them. */
export interface AzureKeyVaultSettings {
  vaultUrl: string;
  tenantId: string | undefined;
  authorityHost: string | undefined;
  disableInstanceDiscovery: boolean;
  additionallyAllowedTenants: string[];
  tls: TlsTrustOptions | undefined;
  /** The vault URL is plain http (allowed by the https-only rule): the SDK needs `allowInsecureConnection`. */
  insecureConnection: boolean;
  /** The pool size (`maxSockets`). */
  maxSockets: number;
  disableChallengeResourceVerification: boolean;
  prefix: string;
  policy: AzureSoftDeletePolicy;
  serviceVersion: string | undefined;
  pollIntervalMs: number;
}

/**
 * Validates the provider's own options into `v` (every problem collected) and applies the defaults.
 *
 * @example
 * ```ts
 * const v = new OptionsValidator('azure-key-vault', { vaultUrl: 'https://v.vault.azure.net' });
 * const { settings } = resolveAzureOptions(v, { vaultUrl: 'https://v.vault.azure.net' });
 * v.throwIfInvalid();
 * ```
 */
export function resolveAzureOptions(
  v: OptionsValidator,
  options: AzureKeyVaultOptions,
): {
  settings: AzureKeyVaultSettings;
  credential: { config: AzureCredentialConfig | TokenCredential; secrets: SecretString[] } | undefined;
} {
  v.noUnknownKeys(AZURE_OPTION_KEYS);
  const { url } = readEndpointOption(v, 'vaultUrl', {
    required: true,
    rule: 'e.g. https://my-vault.vault.azure.net',
  });
  if (url && (url.pathname !== '/' || url.search || url.hash))
    v.add('vaultUrl', 'must be the vault origin only, without a path');
  const authorityHost = v.string('authorityHost', {
    pattern: /^https:\/\/[^\s]+$/,
    rule: 'an https:// URL',
  });
  const tenantId = v.string('tenantId', { nonEmpty: true });
  const prefix =
    v.string('namePrefix', { pattern: /^[0-9a-z-]{0,100}$/, rule: 'at most 100 of 0-9, a-z and -' }) ?? '';
  const policy = v.oneOf('softDeletePolicy', ['recover', 'purge', 'fail']) ?? 'recover';
  const tenants = v.get('additionallyAllowedTenants');
  if (tenants !== undefined && (!Array.isArray(tenants) || tenants.some((t) => typeof t !== 'string'))) {
    v.add('additionallyAllowedTenants', 'must be an array of tenant ids (or ["*"])');
  }
  const settings: AzureKeyVaultSettings = {
    vaultUrl: url ? url.origin : '',
    tenantId,
    authorityHost: authorityHost?.replace(/\/+$/, ''),
    disableInstanceDiscovery:
      v.boolean('disableInstanceDiscovery') ??
      (authorityHost !== undefined && !MICROSOFT_AUTHORITIES.has(safeHost(authorityHost))),
    additionallyAllowedTenants: Array.isArray(tenants) ? [...(tenants as string[])] : [],
    tls: readTlsOptions(v),
    insecureConnection: url?.protocol === 'http:',
    maxSockets: readMaxSockets(v),
    disableChallengeResourceVerification:
      v.boolean('disableChallengeResourceVerification') ??
      // Key Vault's resource check cannot pass on this machine's names (lowkey-vault serves <name>.localhost).
      (url ? isLoopbackHost(url.hostname) || url.hostname.endsWith('.localhost') : false),
    prefix,
    policy,
    serviceVersion: v.string('serviceVersion', { nonEmpty: true }),
    pollIntervalMs: v.number('pollIntervalMs', { min: 10, max: 60_000, integer: true }) ?? 500,
  };
  const credential = validateCredential(v, options?.credential, tenantId);
  return { settings, credential };
}

function safeHost(url: string): string {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return '';
  }
}

function validateCredential(
  v: OptionsValidator,
  credential: unknown,
  tenantId: string | undefined,
): { config: AzureCredentialConfig | TokenCredential; secrets: SecretString[] } | undefined {
  if (credential === undefined) return { config: { type: 'managed-identity' }, secrets: [] };
  if (typeof credential !== 'object' || credential === null) {
    v.add('credential', 'must be a credential config object or a TokenCredential');
    return undefined;
  }
  if (typeof (credential as TokenCredential).getToken === 'function') {
    return { config: credential as TokenCredential, secrets: [] };
  }
  const type = v.oneOf('credential.type', AZURE_CREDENTIAL_TYPES, { required: true });
  const secrets: SecretString[] = [];
  const secret = (path: string, required: boolean) => {
    const raw = v.get(path);
    if (raw instanceof SecretString) secrets.push(raw);
    else if (typeof raw === 'string' && raw.length > 0) secrets.push(new SecretString(raw));
    else if (raw !== undefined || required) v.add(path, 'is required: a non-empty string or SecretString');
  };
  const needTenant = () => {
    if (
      v.string('credential.tenantId', { nonEmpty: true }) === undefined &&
      !tenantId &&
      !process.env['AZURE_TENANT_ID']
    ) {
      v.add('credential.tenantId', 'is required (or set tenantId or AZURE_TENANT_ID)');
    }
  };
  const keys: Record<string, string[]> = {
    'managed-identity': ['clientId', 'resourceId', 'objectId'],
    'client-secret': ['tenantId', 'clientId', 'clientSecret'],
    'client-certificate': ['tenantId', 'clientId', 'certificatePath', 'certificate', 'sendCertificateChain'],
    'workload-identity': ['tenantId', 'clientId', 'tokenFilePath'],
    developer: ['tenantId'],
  };
  if (type) {
    for (const key of Object.keys(credential)) {
      if (key !== 'type' && !keys[type]!.includes(key))
        v.add(`credential.${key}`, `is not an option of ${type}`);
    }
  }
  switch (type) {
    case 'managed-identity': {
      const ids = ['clientId', 'resourceId', 'objectId'].filter((k) =>
        v.string(`credential.${k}`, { nonEmpty: true }),
      );
      if (ids.length > 1) v.add('credential', 'give at most one of clientId, resourceId and objectId');
      break;
    }
    case 'client-secret':
      needTenant();
      v.string('credential.clientId', { required: true });
      secret('credential.clientSecret', true);
      break;
    case 'client-certificate': {
      needTenant();
      v.string('credential.clientId', { required: true });
      const path = v.string('credential.certificatePath', { nonEmpty: true });
      secret('credential.certificate', false);
      if ((path === undefined) === (secrets.length === 0)) {
        v.add('credential', 'give exactly one of certificatePath and certificate');
      }
      v.boolean('credential.sendCertificateChain');
      break;
    }
    case 'workload-identity':
      v.string('credential.tenantId', { nonEmpty: true });
      v.string('credential.clientId', { nonEmpty: true });
      v.string('credential.tokenFilePath', { nonEmpty: true });
      break;
    case 'developer':
      v.string('credential.tenantId', { nonEmpty: true });
      break;
  }
  if (!type) return undefined;
  const copy = { ...(credential as Record<string, unknown>) };
  delete copy['clientSecret'];
  delete copy['certificate'];
  return { config: copy as AzureCredentialConfig, secrets };
}
