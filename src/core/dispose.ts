// Node 20 before 20.4 (and other runtimes) may lack the well-known disposal symbols. Node registers its own
// stand-ins under these keys, so falling back to them keeps `using` and `await using` working wherever a
// runtime or a TypeScript helper looks the symbol up.

/**
 * `Symbol.asyncDispose`, or the symbol Node registers for it where the global is missing. The key of every
 * `[asyncDisposeSymbol]()` method in this package, so `await using` releases stores and providers.
 *
 * @example
 * ```ts
 * import { asyncDisposeSymbol, createStorageProvider } from 'nebula-credential';
 * const provider = await createStorageProvider({ provider: 'memory' });
 * await provider[asyncDisposeSymbol](); // what `await using` calls at the end of the block
 * ```
 */
export const asyncDisposeSymbol: typeof Symbol.asyncDispose = (Symbol.asyncDispose ??
  Symbol.for('nodejs.asyncDispose')) as typeof Symbol.asyncDispose;

/**
 * `Symbol.dispose`, or the symbol Node registers for it where the global is missing: the key of the
 * `[disposeSymbol]()` methods that wipe keys and secrets, so `using` wipes them at the end of a block.
 *
 * @example
 * ```ts
 * import { disposeSymbol, SecretString } from 'nebula-credential';
 * const secret = new SecretString('s3cret');
 * secret[disposeSymbol](); // what `using` calls at the end of the block
 * ```
 */
export const disposeSymbol: typeof Symbol.dispose = (Symbol.dispose ??
  Symbol.for('nodejs.dispose')) as typeof Symbol.dispose;
