import { StorageError } from '../core/errors.js';
import type { StorageProvider } from '../core/provider.js';
import { CredentialStore, type EncryptionConfig, resolveEncryption } from '../core/store.js';
import { findProvider, PROVIDER_NAMES, type StorageConfig } from './registry.js';

/** Options of {@link createStorageProvider}. */
export interface CreateStorageProviderOptions {
  /** Call `connect()` before returning (default true), so bad configuration fails here. */
  connect?: boolean;
  signal?: AbortSignal;
}

/**
 * Validates `config` (every problem reported at once as `InvalidConfig`), loads that provider's module,
 * creates it and connects. Cloud SDKs load only for the provider asked for.
 *
 * @example
 * ```ts
 * import { createStorageProvider } from 'nebula-credential';
 * const provider = await createStorageProvider({ provider: 'local', directory: './.credentials' });
 * console.log(await provider.list());
 * await provider.close();
 * ```
 */
export async function createStorageProvider(
  config: StorageConfig,
  options: CreateStorageProviderOptions = {},
): Promise<StorageProvider> {
  const name = (config as { provider?: unknown } | null | undefined)?.provider;
  const entry = findProvider(name);
  if (!entry) {
    throw new StorageError({
      code: 'InvalidConfig',
      message: `unknown storage provider ${JSON.stringify(name)}: use one of ${PROVIDER_NAMES.map((p) => `"${p}"`).join(', ')}`,
      operation: 'configure',
      details: { issues: [{ path: 'provider', message: `must be one of ${PROVIDER_NAMES.join(', ')}` }] },
    });
  }
  const Provider = await entry.load();
  const provider = new Provider(config as never);
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
}

/**
 * Opens a {@link CredentialStore}: resolves the key, creates and connects the provider.
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
  const encryption = await resolveEncryption(options.encryption);
  const storage = options.storage;
  const provider =
    typeof (storage as StorageProvider).store === 'function'
      ? (storage as StorageProvider)
      : await createStorageProvider(storage as StorageConfig);
  return new CredentialStore(provider, encryption);
}
