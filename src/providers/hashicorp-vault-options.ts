import { maxSocketsOption } from '../core/connection-pool.js';
import { defineProviderOptions, type OptionsOf, type SettingsOf } from '../core/options.js';
import { option } from '../core/options-schema.js';
import {
  endpointSyntaxProblem,
  insecureHttpOption,
  secureEndpointCheck,
  tlsOptions,
} from '../core/transport-security.js';

/**
 * The HashiCorp Vault provider's name, as `createStorageProvider` takes it.
 *
 * @example
 * ```ts
 * import { HASHICORP_VAULT } from 'nebula-credential/vault';
 * const config = { provider: HASHICORP_VAULT, address: 'https://vault.internal:8200' };
 * ```
 */
export const HASHICORP_VAULT = 'hashicorp-vault';

/**
 * Where the vault CLI keeps the token of `vault login` (its default token helper); the provider reads it
 * when neither `auth` nor `VAULT_TOKEN` gives a token.
 *
 * @example
 * ```ts
 * import { VAULT_TOKEN_FILE } from 'nebula-credential/vault';
 * console.log(VAULT_TOKEN_FILE); // ~/.vault-token
 * ```
 */
export const VAULT_TOKEN_FILE = '~/.vault-token';

const SEGMENTS = /^[^/?#%\s]+(\/[^/?#%\s]+)*$/;

function checkSegments(what: string, allowEmpty: boolean) {
  return (text: string): string | undefined => {
    const trimmed = trimSlashes(text);
    if (allowEmpty && trimmed === '') return undefined;
    const parts = trimmed.split('/');
    return SEGMENTS.test(trimmed) && !parts.includes('..') && !parts.includes('.')
      ? undefined
      : `must be ${what}`;
  };
}

/**
 * The Vault provider's options, declared once: type, validation, defaults, the `VAULT_*` environment
 * fallbacks (as the vault CLI reads them), and the docs table.
 *
 * @example
 * ```ts
 * import { HASHICORP_VAULT_OPTIONS } from 'nebula-credential/vault';
 * const { values } = HASHICORP_VAULT_OPTIONS.resolve({}, { env: { VAULT_ADDR: 'https://vault:8200', VAULT_TOKEN: 'hvs.x' } });
 * console.log(values.address.href); // https://vault:8200/
 * ```
 */
export const HASHICORP_VAULT_OPTIONS = defineProviderOptions(
  HASHICORP_VAULT,
  {
    address: option.text({
      doc: "Vault's URL; `http:` only to a loopback host, unless `dangerouslyAllowInsecureHttp`",
      env: 'VAULT_ADDR',
      required: 'the Vault URL, e.g. https://vault.internal:8200',
      check: endpointSyntaxProblem,
      map: (text) => new URL(text),
    }),
    auth: option.exclusive(
      {
        token: option.secret({ doc: 'a Vault token (string or `SecretString`)' }),
        tokenFile: option.path({
          doc: 'a file holding the token, read at `connect()` (a Vault Agent sink, `~/.vault-token`)',
        }),
        appRole: option.object({
          roleId: option.secret({ doc: 'AppRole role_id', required: true }),
          secretId: option.secret({ doc: 'AppRole secret_id', required: true }),
          mount: option.text({
            doc: 'path of the AppRole auth method',
            default: 'approle',
            check: checkSegments('a mount path such as "approle"', false),
            map: trimSlashes,
          }),
        }),
      },
      {
        doc: 'how to authenticate: exactly one of `token`, `tokenFile` or `appRole`',
        env: 'VAULT_TOKEN',
        fromEnv: (text) => ({ token: text }),
        file: { path: VAULT_TOKEN_FILE, value: (path) => ({ tokenFile: path }) },
        defaultDoc: '`VAULT_TOKEN`, else the token file `~/.vault-token` (written by `vault login`)',
      },
    ),
    mount: option.text({
      doc: 'path of the KV v2 secrets engine',
      default: 'secret',
      check: checkSegments('a mount path such as "secret" or "kv/apps"', false),
      map: trimSlashes,
    }),
    prefix: option.text({
      doc: 'folder under the mount that holds the credentials: `db_password` lives at `secret/nebula/credentials/db_password`',
      default: 'nebula/credentials',
      allowEmpty: true,
      check: checkSegments('a path such as "nebula/credentials" (no "..", "?", "#", "%" or spaces)', true),
      map: trimSlashes,
    }),
    namespace: option.text({
      doc: 'Vault Enterprise namespace, sent as `X-Vault-Namespace` (e.g. `team-a/`)',
      env: 'VAULT_NAMESPACE',
      map: trimSlashes,
      defaultDoc: '`VAULT_NAMESPACE`, else none (root)',
    }),
    tls: tlsOptions(
      {
        caFile:
          "PEM file of the CA that signed Vault's certificate (it replaces the system CAs), read at `connect()`",
        ca: 'PEM text of CA certificates, trusted too (with or instead of `tls.caFile`)',
        env: 'VAULT_CACERT',
      },
      {
        rejectUnauthorized: option.boolean({
          doc: 'verify the server certificate (`false` is for throw-away test servers only)',
          default: true,
        }),
      },
    ),
    dangerouslyAllowInsecureHttp: insecureHttpOption('the token'),
    maxSockets: maxSocketsOption(),
    renewThresholdSeconds: option.number({
      doc: 'renew the token when its remaining TTL falls below this many seconds',
      integer: true,
      min: 0,
      max: 31 * 86400,
      default: 3600,
    }),
    maxCredentialSize: option.number({
      doc: 'largest ciphertext accepted, in bytes',
      integer: true,
      min: 1,
      max: 2 ** 30,
      default: 1024 * 1024,
      defaultDoc: '1048576 (1 MiB)',
    }),
    maxRequestBytes: option.number({
      doc: "largest request body, in bytes (Vault's listener `max_request_size`)",
      integer: true,
      min: 1024,
      max: 2 ** 31,
      default: 32 * 1024 * 1024,
      defaultDoc: '33554432 (32 MiB)',
    }),
    deleteMode: option.enum(['destroy', 'soft'], {
      doc: '`destroy` removes every version and the metadata (like `vault kv metadata delete`); `soft` soft-deletes the latest version, recoverable with `vault kv undelete`',
      default: 'destroy',
    }),
    checkAndSet: option.boolean({
      doc: 'each store reads the current version and writes with `cas`, so a concurrent writer fails with `Conflict` instead of being overwritten (needed when the mount sets `cas_required`); one extra request per store',
      default: false,
    }),
  },
  {
    check: (values, report) => secureEndpointCheck(values, ['address'], report),
  },
);

/**
 * Options of `HashiCorpVaultProvider`. Unset options fall back to the vault CLI's environment:
 * `VAULT_ADDR`, `VAULT_TOKEN` (then `~/.vault-token`), `VAULT_NAMESPACE`, `VAULT_CACERT`.
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
export type HashiCorpVaultOptions = OptionsOf<typeof HASHICORP_VAULT_OPTIONS>;

/** The Vault provider's settings after validation, with defaults applied. */
export type VaultSettings = SettingsOf<typeof HASHICORP_VAULT_OPTIONS>;

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

/** Removes leading and trailing slashes (`/secret/` is the mount `secret`). */
export function trimSlashes(s: string): string {
  return s.replace(/^\/+|\/+$/g, '');
}
