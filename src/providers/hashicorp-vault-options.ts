import { readMaxSockets } from '../core/connection-pool.js';
import type { ResolvedCommonOptions } from '../core/options.js';
import { type CommonProviderOptions, OptionsValidator } from '../core/options.js';
import { SecretString } from '../core/secret-string.js';
import { readEndpointOption, readTlsOptions, type TlsTrustOptions } from '../core/transport-security.js';
import type { VaultAuth } from './hashicorp-vault-auth.js';

const PROVIDER_NAME = 'hashicorp-vault';

/**
 * Options of `HashiCorpVaultProvider`.
 *
 * @example
 * ```ts
 * const options: HashiCorpVaultOptions = {
 *   address: 'https://vault.internal:8200',
 *   auth: { appRole: { roleId: process.env.VAULT_ROLE_ID!, secretId: process.env.VAULT_SECRET_ID! } },
 *   tls: { caFile: '/etc/ssl/vault-ca.pem' },
 * };
 * ```
 */
export interface HashiCorpVaultOptions extends CommonProviderOptions {
  /** Vault's address, e.g. `https://vault.internal:8200`. `http:` only to a loopback host, unless {@link dangerouslyAllowInsecureHttp}. */
  address: string;
  /** How to authenticate: a token, or an AppRole login (role_id / secret_id). Held as SecretString. */
  auth:
    | { token: string | SecretString }
    | { appRole: { roleId: string | SecretString; secretId: string | SecretString; mount?: string } };
  /** Path of the KV v2 secrets engine. @default 'secret' */
  mount?: string;
  /** Folder under the mount that holds the credentials. @default 'nebula/credentials' */
  pathPrefix?: string;
  /** Vault Enterprise namespace, sent as `X-Vault-Namespace` (e.g. `team-a/`). @default undefined (root) */
  namespace?: string;
  /** TLS settings. Verification is on unless `rejectUnauthorized: false`. */
  tls?: {
    /** PEM text of the CA that signed Vault's certificate (it replaces the system CAs). */
    ca?: string;
    /** Path of a PEM CA file, read at `connect()`. */
    caFile?: string;
    /** Verify the server certificate. @default true */
    rejectUnauthorized?: boolean;
  };
  /** Allow a plain `http:` address to a host that is not loopback (the token crosses the network in clear). @default false */
  dangerouslyAllowInsecureHttp?: boolean;
  /** Most sockets the HTTP agent keeps open to the backend at once (1-1024); calls beyond it queue. @default 50 */
  maxSockets?: number;
  /** Renew the token when its remaining TTL falls below this many seconds. @default 3600 */
  renewThresholdSeconds?: number;
  /** Largest ciphertext accepted, in bytes. @default 1048576 (1 MiB) */
  maxCredentialSize?: number;
  /** Largest request body, in bytes (Vault's listener `max_request_size`). @default 33554432 (32 MiB) */
  maxRequestBytes?: number;
  /**
   * `destroy`: delete removes every version and the metadata (`DELETE metadata/...`), like `vault kv metadata
   * delete`. `soft`: delete soft-deletes the latest version (`DELETE data/...`), recoverable with `undelete`.
   * @default 'destroy'
   */
  deleteMode?: 'destroy' | 'soft';
  /**
   * Check-and-set: each store reads the current version and writes with `options.cas`, so a concurrent
   * writer's store fails with `Conflict` instead of being overwritten (needed when the mount sets
   * `cas_required`). Costs one extra request per store. @default false
   */
  checkAndSet?: boolean;
}

/**
 * One version of a credential, as Vault's metadata lists it.
 *
 * @example
 * ```ts
 * const { versions } = await provider.versionHistory('db_password');
 * const live = versions.filter((v) => !v.deletedAt && !v.destroyed);
 * ```
 */
export interface VaultCredentialVersion {
  version: number;
  createdAt: Date;
  /** Set when the version was soft-deleted (or is scheduled to be). */
  deletedAt?: Date | undefined;
  destroyed: boolean;
}

/**
 * A credential's version history.
 *
 * @example
 * ```ts
 * const history = await provider.versionHistory('db_password');
 * console.log(`v${history.currentVersion}, oldest kept v${history.oldestVersion}`);
 * ```
 */
export interface VaultVersionHistory {
  id: string;
  currentVersion: number;
  oldestVersion: number;
  /** Oldest first; Vault keeps at most `max_versions` (default 10). */
  versions: VaultCredentialVersion[];
}

/**
 * One entry of `HashiCorpVaultProvider.listWithVersions`.
 *
 * @example
 * ```ts
 * for (const { id, version, tags } of await provider.listWithVersions()) console.log(id, version, tags);
 * ```
 */
export interface VaultCredentialSummary {
  id: string;
  /** Latest version number. */
  version: number;
  createdAt: Date;
  lastModified: Date;
  tags: Record<string, string>;
}

/** Options after validation, with defaults applied. */
export interface VaultSettings {
  address: URL;
  maxSockets: number;
  mount: string;
  prefix: string;
  namespace: string | undefined;
  auth: VaultAuth;
  tls: TlsTrustOptions | undefined;
  rejectUnauthorized: boolean;
  thresholdMs: number;
  maxRequestBytes: number;
  deleteMode: 'destroy' | 'soft';
  checkAndSet: boolean;
}

/** Validates `options` (every problem in one InvalidConfig) and applies the defaults. No I/O. */
export function resolveVaultOptions(options: HashiCorpVaultOptions): {
  settings: VaultSettings;
  common: ResolvedCommonOptions;
  maxCredentialSize: number;
} {
  const v = new OptionsValidator(PROVIDER_NAME, options);
  v.noUnknownKeys([
    'address',
    'auth',
    'mount',
    'pathPrefix',
    'namespace',
    'tls',
    'dangerouslyAllowInsecureHttp',
    'maxSockets',
    'renewThresholdSeconds',
    'maxCredentialSize',
    'maxRequestBytes',
    'deleteMode',
    'checkAndSet',
  ]);
  const { url: address } = readEndpointOption(v, 'address', {
    required: true,
    rule: 'the Vault URL, e.g. https://vault:8200',
  });
  const segments = /^[^/?#%\s]+(\/[^/?#%\s]+)*$/;
  const mount = trimSlashes(v.string('mount', { nonEmpty: true }) ?? 'secret');
  if (!segments.test(mount) || mount.split('/').includes('..'))
    v.add('mount', 'must be a mount path such as "secret" or "kv/apps"');
  const prefix = trimSlashes(v.string('pathPrefix') ?? 'nebula/credentials');
  if (prefix !== '' && (!segments.test(prefix) || prefix.split('/').some((s) => s === '..' || s === '.'))) {
    v.add('pathPrefix', 'must be a path such as "nebula/credentials" (no "..", "?", "#", "%" or spaces)');
  }
  const namespace = v.string('namespace', { nonEmpty: true });
  const auth = parseAuth(v);
  const tls = readTlsOptions(v, ['rejectUnauthorized']);
  const rejectUnauthorized = v.boolean('tls.rejectUnauthorized') ?? true;
  const threshold = v.number('renewThresholdSeconds', { min: 0, max: 31 * 86400, integer: true }) ?? 3600;
  const maxCredentialSize =
    v.number('maxCredentialSize', { min: 1, max: 2 ** 30, integer: true }) ?? 1024 * 1024;
  const maxRequestBytes =
    v.number('maxRequestBytes', { min: 1024, max: 2 ** 31, integer: true }) ?? 32 * 1024 * 1024;
  const deleteMode = v.oneOf('deleteMode', ['destroy', 'soft'] as const) ?? 'destroy';
  const checkAndSet = v.boolean('checkAndSet') ?? false;
  const maxSockets = readMaxSockets(v);
  const common = v.common();
  v.throwIfInvalid();
  return {
    settings: {
      address: address!,
      maxSockets,
      mount,
      prefix,
      namespace: namespace ? trimSlashes(namespace) : undefined,
      auth: auth!,
      tls,
      rejectUnauthorized,
      thresholdMs: threshold * 1000,
      maxRequestBytes,
      deleteMode,
      checkAndSet,
    },
    common,
    maxCredentialSize,
  };
}

function parseAuth(v: OptionsValidator): VaultAuth | undefined {
  const auth = v.get('auth');
  if (typeof auth !== 'object' || auth === null) {
    v.add('auth', 'is required: { token } or { appRole: { roleId, secretId } }');
    return undefined;
  }
  const a = auth as Record<string, unknown>;
  const keys = Object.keys(a);
  if (keys.length !== 1 || !['token', 'appRole'].includes(keys[0]!)) {
    v.add('auth', 'must have exactly one of "token" or "appRole"');
    return undefined;
  }
  const secret = (path: string, value: unknown): SecretString | undefined => {
    if (value instanceof SecretString) return value.useBytes((b) => new SecretString(b));
    if (typeof value === 'string' && value.length > 0) return new SecretString(value);
    v.add(path, 'must be a non-empty string or SecretString');
    return undefined;
  };
  if ('token' in a) {
    const token = secret('auth.token', a.token);
    return token ? { kind: 'token', token } : undefined;
  }
  const role = a.appRole as Record<string, unknown> | undefined;
  if (typeof role !== 'object' || role === null) {
    v.add('auth.appRole', 'must be { roleId, secretId, mount? }');
    return undefined;
  }
  for (const key of Object.keys(role)) {
    if (!['roleId', 'secretId', 'mount'].includes(key)) v.add(`auth.appRole.${key}`, 'unknown option');
  }
  const roleId = secret('auth.appRole.roleId', role.roleId);
  const secretId = secret('auth.appRole.secretId', role.secretId);
  const mount = trimSlashes(v.string('auth.appRole.mount', { nonEmpty: true }) ?? 'approle');
  return roleId && secretId ? { kind: 'appRole', roleId, secretId, mount } : undefined;
}

export function trimSlashes(s: string): string {
  return s.replace(/^\/+|\/+$/g, '');
}
