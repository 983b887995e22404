import { defineProviderOptions, type OptionsOf } from '../core/options.js';
import { option } from '../core/options-schema.js';

/**
 * The local provider's name, as `createStorageProvider` takes it.
 *
 * @example
 * ```ts
 * import { LOCAL } from 'nebula-credential/local';
 * const config = { provider: LOCAL, directory: './.credentials' };
 * ```
 */
export const LOCAL = 'local';

/**
 * The local provider's options, declared once (type, validation, defaults, docs table).
 *
 * @example
 * ```ts
 * import { LOCAL_OPTIONS } from 'nebula-credential/local';
 * console.log(LOCAL_OPTIONS.resolve({}).values.insecurePermissions); // fix
 * ```
 */
export const LOCAL_OPTIONS = defineProviderOptions(LOCAL, {
  directory: option.path({
    doc: 'where the credential files live; `~` is the home directory; relative paths resolve against the current directory (in a CLI config file: against the file)',
    default: '~/.nebula/credentials',
  }),
  createDirectory: option.boolean({
    doc: 'create the directory (and missing parents) with mode 0700 at `connect()` when it is missing',
    default: true,
  }),
  maxCredentialSize: option.number({
    doc: 'largest ciphertext accepted, in bytes',
    integer: true,
    min: 1,
    max: 64 * 1024 * 1024,
    default: 1024 * 1024,
    defaultDoc: '1048576 (1 MiB)',
  }),
  maxMetadataBytes: option.number({
    doc: 'largest metadata (its JSON) accepted, in bytes; with `maxCredentialSize` it bounds the size of a file read',
    integer: true,
    min: 1024,
    max: 16 * 1024 * 1024,
    default: 64 * 1024,
  }),
  lockStaleMs: option.number({
    doc: 'a cross-process lock whose holder has not renewed it for this long is broken, even if the holder may be alive (hung, or on another host); holders renew every quarter of it, and a holder known dead on this host is broken at once. Keep it below `timeouts.writeMs`, so waiting writers break a silent holder before they give up',
    integer: true,
    min: 100,
    max: 3_600_000,
    // Half the default write deadline: a holder that stops renewing its lock is broken while writers still wait.
    default: 5_000,
  }),
  insecurePermissions: option.enum(['fix', 'refuse'], {
    doc: "a file or the directory readable by group or others: `'fix'` tightens it (0600 / 0700) and logs a warning, `'refuse'` fails (`PermissionDenied`, `InvalidConfig` for the directory); writable by others or owned by another user is always refused",
    default: 'fix',
  }),
});

/**
 * Options of the local encrypted file store.
 *
 * @example
 * ```ts
 * import { LocalStorageProvider } from 'nebula-credential/local';
 * const provider = new LocalStorageProvider({ directory: './.credentials', insecurePermissions: 'refuse' });
 * ```
 */
export type LocalStorageOptions = OptionsOf<typeof LOCAL_OPTIONS>;
