import { defineProviderOptions, type OptionsOf } from '../core/options.js';
import { option } from '../core/options-schema.js';

/**
 * The in-memory provider's name, as `createStorageProvider` takes it.
 *
 * @example
 * ```ts
 * import { MEMORY } from 'nebula-credential/memory';
 * const config = { provider: MEMORY };
 * ```
 */
export const MEMORY = 'memory';

/**
 * The in-memory provider's options, declared once (type, validation, defaults, docs table).
 *
 * @example
 * ```ts
 * import { MEMORY_OPTIONS } from 'nebula-credential/memory';
 * console.log(MEMORY_OPTIONS.resolve({}).values.maxCredentialSize); // 1048576
 * ```
 */
export const MEMORY_OPTIONS = defineProviderOptions(MEMORY, {
  maxCredentialSize: option.number({
    doc: 'largest ciphertext accepted, in bytes',
    integer: true,
    min: 1,
    max: 2 ** 31,
    default: 1024 * 1024,
    defaultDoc: '1048576 (1 MiB)',
  }),
});

/**
 * Options of the in-memory provider.
 *
 * @example
 * ```ts
 * import { MemoryStorageProvider } from 'nebula-credential/memory';
 * const provider = new MemoryStorageProvider({ maxCredentialSize: 1024 });
 * ```
 */
export type MemoryStorageOptions = OptionsOf<typeof MEMORY_OPTIONS>;
