import { StorageError } from './errors.js';

/**
 * Loads an optional peer dependency (a cloud SDK) on first use, so that importing the core or the local
 * provider never loads one. A missing package becomes `MissingDependency` with the install command.
 * `load` must be a literal `() => import('pkg')` so bundlers can see it.
 *
 * @example
 * ```ts
 * import { importOptionalPeer } from 'nebula-credential';
 * const sdk = await importOptionalPeer('aws-secrets-manager', '@aws-sdk/client-secrets-manager@^3',
 *   () => import('@aws-sdk/client-secrets-manager'));
 * ```
 */
export async function importOptionalPeer<T>(
  provider: string,
  packageSpec: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      const name = packageSpec.replace(/(?<=.)@[^@/]*$/, '');
      throw new StorageError({
        code: 'MissingDependency',
        message: `the ${provider} provider needs the optional package ${name}: run npm install ${packageSpec}`,
        provider,
        operation: 'connect',
        details: { package: name },
        cause: error,
      });
    }
    throw error;
  }
}
