import {
  checkOptionsObject,
  describeType,
  describeValue,
  invalidArgument,
  isPlainObject,
} from '../core/arguments.js';
import type { EncryptionManager } from '../core/crypto.js';
import { StorageError } from '../core/errors.js';
import { readDeadline } from '../core/files.js';
import { DEFAULT_TIMEOUTS } from '../core/options.js';
import type { StorageProvider } from '../core/provider.js';
import {
  CredentialStore,
  type EncryptionConfig,
  isStorageProvider,
  resolveEncryption,
} from '../core/store.js';
import { findProvider, PROVIDER_NAMES, type StorageConfig } from './registry.js';

/** Options of {@link createStorageProvider}. */
export interface CreateStorageProviderOptions {
  /** Call `connect()` before returning (default true), so bad configuration fails here. */
  connect?: boolean;
  signal?: AbortSignal;
}

/**
 * Validates `config` (every problem reported at once as `InvalidConfig`), loads that provider's module,
 * creates it and connects. Cloud SDKs load only for the provider asked for. The provider is
 * `AsyncDisposable`: `await using` closes it at the end of the block.
 *
 * @example
 * ```ts
 * import { createStorageProvider } from 'nebula-credential';
 * const provider = await createStorageProvider({ provider: 'local', directory: './.credentials' });
 * console.log(await provider.list());
 * await provider.close();
 * // or: await using provider = await createStorageProvider(...); closed when the block ends
 * ```
 */
export async function createStorageProvider(
  config: StorageConfig,
  options: CreateStorageProviderOptions = {},
): Promise<StorageProvider & AsyncDisposable> {
  if (!isPlainObject(config)) {
    throw invalidArgument(
      `createStorageProvider needs a config object such as { provider: 'local' } (got ${describeType(config)})`,
      'configure',
      { path: '' },
    );
  }
  const given = checkOptionsObject(options, 'the options of createStorageProvider', ['connect', 'signal']);
  if (given['connect'] !== undefined && typeof given['connect'] !== 'boolean') {
    throw invalidArgument(
      `connect must be true or false (got ${describeType(given['connect'])})`,
      'configure',
      {
        path: 'connect',
      },
    );
  }
  if (given['signal'] !== undefined && !(given['signal'] instanceof AbortSignal)) {
    throw invalidArgument(
      `signal must be an AbortSignal (got ${describeType(given['signal'])})`,
      'configure',
      {
        path: 'signal',
      },
    );
  }
  const name = config['provider'];
  const entry = findProvider(name);
  if (!entry) {
    throw new StorageError({
      code: 'InvalidConfig',
      message: `${name === undefined ? 'the config names no storage provider' : `unknown storage provider ${describeValue(name)}`}: set "provider" to one of ${PROVIDER_NAMES.map((p) => `"${p}"`).join(', ')}`,
      operation: 'configure',
      details: { issues: [{ path: 'provider', message: `must be one of ${PROVIDER_NAMES.join(', ')}` }] },
    });
  }
  const Provider = await entry.load();
  const provider = new Provider(config as never) as StorageProvider & AsyncDisposable;
  if (options.connect !== false) {
    try {
      await provider.connect({ signal: options.signal });
    } catch (error) {
      await provider.close().catch(() => {});
      throw error;
    }
  }
  return provider;
}

/** Options of {@link openCredentialStore}. */
export interface CredentialStoreOptions {
  /** The backend: a `createStorageProvider` config, or a provider you built. */
  storage: StorageConfig | StorageProvider;
  encryption: EncryptionConfig;
  /** Aborts opening: reading the key file and connecting the provider. */
  signal?: AbortSignal | undefined;
}

/**
 * Opens a {@link CredentialStore}: resolves the key, creates and connects the provider. Every option is
 * checked first; a key file is read under the connect deadline (a FIFO or a device is refused at once). The
 * store disposes the manager on `close()` only when it created it (not one passed as `{ manager }`).
 *
 * @example
 * ```ts
 * import { openCredentialStore } from 'nebula-credential';
 * import { randomBytes } from 'node:crypto';
 * const store = await openCredentialStore({ storage: { provider: 'memory' }, encryption: { key: randomBytes(32) } });
 * await store.put('api_key', 'value');
 * ```
 */
export async function openCredentialStore(options: CredentialStoreOptions): Promise<CredentialStore> {
  if (options === undefined) {
    throw invalidArgument('openCredentialStore needs its options: { storage, encryption }', 'configure');
  }
  const given = checkOptionsObject(options, 'the options of openCredentialStore', [
    'storage',
    'encryption',
    'signal',
  ]);
  const { storage, encryption, signal } = given;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArgument(`signal must be an AbortSignal (got ${describeType(signal)})`, 'configure', {
      path: 'signal',
    });
  }
  const provided = isStorageProvider(storage);
  if (!provided && !isPlainObject(storage)) {
    throw invalidArgument(
      `storage must be a createStorageProvider config such as { provider: 'local' } or a StorageProvider (got ${describeType(storage)})`,
      'configure',
      { path: 'storage' },
    );
  }
  const deadline = readDeadline(
    connectMsOf(provided ? undefined : storage),
    'reading the encryption key',
    signal as AbortSignal | undefined,
  );
  let manager: EncryptionManager;
  try {
    manager = await resolveEncryption(encryption as EncryptionConfig, { signal: deadline.signal });
  } finally {
    deadline.clear();
  }
  const owned = !(isPlainObject(encryption) && encryption['manager'] !== undefined);
  try {
    const provider = provided
      ? storage
      : await createStorageProvider(
          storage as unknown as StorageConfig,
          signal ? { signal: signal as AbortSignal } : {},
        );
    return new CredentialStore(provider, manager, { disposeEncryptionOnClose: owned });
  } catch (error) {
    if (owned) manager.dispose();
    throw error;
  }
}

/** The connect deadline a storage config asks for (`timeouts.connectMs`), or the default. */
function connectMsOf(storage: Record<string, unknown> | undefined): number {
  const configured = (storage?.['timeouts'] as { connectMs?: unknown } | undefined)?.connectMs;
  return typeof configured === 'number' && Number.isFinite(configured) && configured > 0
    ? configured
    : DEFAULT_TIMEOUTS.connectMs;
}
