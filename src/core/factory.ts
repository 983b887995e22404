import type { AwsSecretsManagerOptions } from '../providers/aws-secrets-manager.js';
import type { AzureKeyVaultOptions } from '../providers/azure-key-vault.js';
import type { HashiCorpVaultOptions } from '../providers/hashicorp-vault.js';
import type { KubernetesSecretsOptions } from '../providers/kubernetes-secrets.js';
import type { LocalStorageOptions } from '../providers/local.js';
import type { MemoryStorageOptions } from '../providers/memory.js';
import {
  checkOptionsObject,
  describeType,
  describeValue,
  invalidArgument,
  isPlainObject,
} from './arguments.js';
import { StorageError } from './errors.js';
import type { ProviderName, StorageProvider } from './provider.js';

/**
 * Which backend, and its options: a discriminated union on `provider`. Switching backend is a change of
 * this one object; application code stays the same.
 *
 * @example
 * ```ts
 * const config: StorageConfig = { provider: 'local', directory: '/var/lib/app/credentials' };
 * // later: { provider: 'aws-secrets-manager', region: 'eu-west-1' }
 * ```
 */
export type StorageConfig =
  | ({ provider: 'memory' } & MemoryStorageOptions)
  | ({ provider: 'local' } & LocalStorageOptions)
  | ({ provider: 'aws-secrets-manager' } & AwsSecretsManagerOptions)
  | ({ provider: 'azure-key-vault' } & AzureKeyVaultOptions)
  | ({ provider: 'hashicorp-vault' } & HashiCorpVaultOptions)
  | ({ provider: 'kubernetes' } & KubernetesSecretsOptions);

type ProviderConstructor = new (options: never) => StorageProvider & AsyncDisposable;

// Each provider module is imported only when its name is asked for; none of them imports its SDK at load.
const PROVIDER_LOADERS: Record<ProviderName, () => Promise<ProviderConstructor>> = {
  memory: async () => (await import('../providers/memory.js')).MemoryStorageProvider,
  local: async () => (await import('../providers/local.js')).LocalStorageProvider as ProviderConstructor,
  'aws-secrets-manager': async () =>
    (await import('../providers/aws-secrets-manager.js')).AwsSecretsManagerProvider as ProviderConstructor,
  'azure-key-vault': async () =>
    (await import('../providers/azure-key-vault.js')).AzureKeyVaultProvider as ProviderConstructor,
  'hashicorp-vault': async () =>
    (await import('../providers/hashicorp-vault.js')).HashiCorpVaultProvider as ProviderConstructor,
  kubernetes: async () =>
    (await import('../providers/kubernetes-secrets.js')).KubernetesSecretsProvider as ProviderConstructor,
};

/**
 * The provider names `createStorageProvider` accepts.
 *
 * @example
 * ```ts
 * import { PROVIDER_NAMES } from 'nebula-credential';
 * console.log(PROVIDER_NAMES.includes('local')); // true
 * ```
 */
export const PROVIDER_NAMES = Object.keys(PROVIDER_LOADERS) as ProviderName[];

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
  const load = typeof name === 'string' ? PROVIDER_LOADERS[name as ProviderName] : undefined;
  if (!load || !Object.hasOwn(PROVIDER_LOADERS, name as string)) {
    const shown = describeValue(name);
    throw new StorageError({
      code: 'InvalidConfig',
      message: `${name === undefined ? 'the config names no storage provider' : `unknown storage provider ${shown}`}: set "provider" to one of ${PROVIDER_NAMES.map((p) => `"${p}"`).join(', ')}`,
      operation: 'configure',
      details: { issues: [{ path: 'provider', message: `must be one of ${PROVIDER_NAMES.join(', ')}` }] },
    });
  }
  const Provider = await load();
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
