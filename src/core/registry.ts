import type { OptionsSchema, Shape } from './options-schema.js';
import type { PeerPackage } from './peer.js';
import type { StorageProvider } from './provider.js';

/**
 * An emulator of a provider's service, started by `nebula-credential emulator <name>`: its name on the
 * command line and a loader of its module (under `src/testing/emulators`).
 *
 * @example
 * ```ts
 * const emulator: EmulatorRegistration = { name: 'vault', load: async () => (await import('./vault.js')).cliEmulator };
 * ```
 */
export interface EmulatorRegistration<Emulator = unknown> {
  readonly name: string;
  readonly load: () => Promise<Emulator>;
}

/** A provider class as the registry knows it: built from its options, no I/O in the constructor. */
export type ProviderClass = new (options: never) => StorageProvider;

/**
 * One provider of the package, declared once. Everything that lists providers derives from these
 * entries: the name union and the config union, `createStorageProvider`, the CLI's lists and help, the
 * `emulator` command, the bundle's entry points, and the tests that check package.json's exports and
 * peer dependencies against them.
 *
 * @example
 * ```ts
 * const entry: ProviderRegistration = {
 *   name: 'kv',
 *   module: 'providers/kv',
 *   subpath: './kv',
 *   load: async () => (await import('./kv.js')).KvProvider,
 *   options: KV_OPTIONS,
 *   peers: [],
 *   docs: 'docs/providers/kv.md',
 * };
 * ```
 */
export interface ProviderRegistration<
  Name extends string = string,
  Options extends OptionsSchema<Shape> = OptionsSchema<Shape>,
  Provider extends ProviderClass = ProviderClass,
> {
  /** The `provider` value of a config (`hashicorp-vault`). */
  readonly name: Name;
  /** The module under `src/` (and `dist/`) that exports the class, without extension (`providers/hashicorp-vault`). */
  readonly module: string;
  /** The package subpath exporting that module (`./vault` for `nebula-credential/vault`). */
  readonly subpath: `./${string}`;
  /** Imports the module and returns the class: a literal `import()` so bundlers see it. */
  readonly load: () => Promise<Provider>;
  /** The options schema (type, validation, defaults, environment fallbacks, paths, secrets, docs table). */
  readonly options: Options;
  /** Optional SDKs with their version ranges, as package.json's `peerDependencies` must list them. */
  readonly peers: readonly PeerPackage[];
  /** The emulator `nebula-credential emulator` starts for this provider, if there is one. */
  readonly emulator?: EmulatorRegistration | undefined;
  /** The provider's page, whose options table is generated from `options`. */
  readonly docs: string;
}
