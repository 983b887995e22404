import type { OptionsOf } from '../core/options.js';
import type { OptionsSchema, Shape } from '../core/options-schema.js';
import type { ProviderClass, ProviderRegistration } from '../core/registry.js';
import type { CliEmulator } from '../testing/emulator-kit/cli-contract.js';
import {
  AWS_SECRETS_MANAGER,
  AWS_SECRETS_MANAGER_OPTIONS,
  AWS_SECRETS_MANAGER_SDK,
} from './aws-secrets-manager-options.js';
import { AZURE_KEY_VAULT, AZURE_KEY_VAULT_OPTIONS, AZURE_KEY_VAULT_SDKS } from './azure-key-vault-options.js';
import {
  GCP_SECRET_MANAGER,
  GCP_SECRET_MANAGER_OPTIONS,
  GCP_SECRET_MANAGER_SDK,
} from './gcp-secret-manager-options.js';
import { HASHICORP_VAULT, HASHICORP_VAULT_OPTIONS } from './hashicorp-vault-options.js';
import { KUBERNETES, KUBERNETES_OPTIONS, KUBERNETES_SDK } from './kubernetes-secrets-options.js';
import { LOCAL, LOCAL_OPTIONS } from './local-options.js';
import { MEMORY, MEMORY_OPTIONS } from './memory-options.js';

/** Checks one entry and keeps its exact types (name literal, options schema, class). */
function defineProvider<const N extends string, O extends OptionsSchema<Shape>, P extends ProviderClass>(
  entry: ProviderRegistration<N, O, P> & { emulator?: { name: string; load: () => Promise<CliEmulator> } },
) {
  return entry;
}

/**
 * Every provider this package ships, one entry each. A new provider adds its own files
 * (`src/providers/<name>.ts`, `-options.ts`, `-errors.ts`, ...), one entry here, and its docs page; the
 * name union, the config union, `createStorageProvider`, the CLI, the bundle and the package tests follow.
 *
 * @example
 * ```ts
 * import { PROVIDER_REGISTRY } from 'nebula-credential';
 * for (const p of PROVIDER_REGISTRY) console.log(p.name, `nebula-credential/${p.subpath.slice(2)}`, p.docs);
 * ```
 */
export const PROVIDER_REGISTRY = [
  defineProvider({
    name: LOCAL,
    module: 'providers/local',
    subpath: './local',
    load: async () => (await import('./local.js')).LocalStorageProvider,
    options: LOCAL_OPTIONS,
    peers: [],
    docs: 'docs/providers/local.md',
  }),
  defineProvider({
    name: MEMORY,
    module: 'providers/memory',
    subpath: './memory',
    load: async () => (await import('./memory.js')).MemoryStorageProvider,
    options: MEMORY_OPTIONS,
    peers: [],
    docs: 'docs/providers/memory.md',
  }),
  defineProvider({
    name: AWS_SECRETS_MANAGER,
    module: 'providers/aws-secrets-manager',
    subpath: './aws',
    load: async () => (await import('./aws-secrets-manager.js')).AwsSecretsManagerProvider,
    options: AWS_SECRETS_MANAGER_OPTIONS,
    peers: [AWS_SECRETS_MANAGER_SDK],
    emulator: { name: 'aws', load: async () => (await import('../testing/emulators/aws.js')).cliEmulator },
    docs: 'docs/providers/aws-secrets-manager.md',
  }),
  defineProvider({
    name: AZURE_KEY_VAULT,
    module: 'providers/azure-key-vault',
    subpath: './azure',
    load: async () => (await import('./azure-key-vault.js')).AzureKeyVaultProvider,
    options: AZURE_KEY_VAULT_OPTIONS,
    peers: [AZURE_KEY_VAULT_SDKS.secrets, AZURE_KEY_VAULT_SDKS.identity],
    emulator: {
      name: 'azure',
      load: async () => (await import('../testing/emulators/azure.js')).cliEmulator,
    },
    docs: 'docs/providers/azure-key-vault.md',
  }),
  defineProvider({
    name: HASHICORP_VAULT,
    module: 'providers/hashicorp-vault',
    subpath: './vault',
    load: async () => (await import('./hashicorp-vault.js')).HashiCorpVaultProvider,
    options: HASHICORP_VAULT_OPTIONS,
    peers: [],
    emulator: {
      name: 'vault',
      load: async () => (await import('../testing/emulators/vault.js')).cliEmulator,
    },
    docs: 'docs/providers/hashicorp-vault.md',
  }),
  defineProvider({
    name: KUBERNETES,
    module: 'providers/kubernetes-secrets',
    subpath: './kubernetes',
    load: async () => (await import('./kubernetes-secrets.js')).KubernetesSecretsProvider,
    options: KUBERNETES_OPTIONS,
    peers: [KUBERNETES_SDK],
    emulator: {
      name: 'kubernetes',
      load: async () => (await import('../testing/emulators/kubernetes.js')).cliEmulator,
    },
    docs: 'docs/providers/kubernetes-secrets.md',
  }),
  defineProvider({
    name: GCP_SECRET_MANAGER,
    module: 'providers/gcp-secret-manager',
    subpath: './gcp',
    load: async () => (await import('./gcp-secret-manager.js')).GcpSecretManagerProvider,
    options: GCP_SECRET_MANAGER_OPTIONS,
    peers: [GCP_SECRET_MANAGER_SDK],
    emulator: { name: 'gcp', load: async () => (await import('../testing/emulators/gcp.js')).cliEmulator },
    docs: 'docs/providers/gcp-secret-manager.md',
  }),
] as const;

type Entry = (typeof PROVIDER_REGISTRY)[number];

/**
 * The provider names `createStorageProvider` accepts.
 *
 * @example
 * ```ts
 * const name: ProviderName = 'hashicorp-vault';
 * ```
 */
export type ProviderName = Entry['name'];

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
export type StorageConfig = {
  [E in Entry as E['name']]: { provider: E['name'] } & OptionsOf<E['options']>;
}[ProviderName];

/**
 * The provider names `createStorageProvider` accepts, in registry order.
 *
 * @example
 * ```ts
 * import { PROVIDER_NAMES } from 'nebula-credential';
 * console.log(PROVIDER_NAMES.includes('local')); // true
 * ```
 */
export const PROVIDER_NAMES: readonly ProviderName[] = PROVIDER_REGISTRY.map((p) => p.name);

/**
 * The registry entry of `name`, or undefined for a name no provider has.
 *
 * @example
 * ```ts
 * import { findProvider } from 'nebula-credential';
 * console.log(findProvider('hashicorp-vault')?.docs); // docs/providers/hashicorp-vault.md
 * ```
 */
export function findProvider(name: unknown): ProviderRegistration | undefined {
  return PROVIDER_REGISTRY.find((p) => p.name === name) as ProviderRegistration | undefined;
}

/**
 * The emulators `nebula-credential emulator` can start, from the registry.
 *
 * @example
 * ```ts
 * import { EMULATORS } from 'nebula-credential';
 * console.log(EMULATORS.map((e) => e.name).join(', ')); // aws, azure, vault, kubernetes
 * ```
 */
export const EMULATORS: readonly {
  name: string;
  provider: ProviderName;
  load: () => Promise<CliEmulator>;
}[] = PROVIDER_REGISTRY.flatMap((p) =>
  'emulator' in p && p.emulator ? [{ name: p.emulator.name, provider: p.name, load: p.emulator.load }] : [],
);
