// PLACEHOLDER: replaced by the provider's implementation (see its issue).
import { StorageError } from '../core/errors.js';
import type { CommonProviderOptions } from '../core/options.js';

export interface AzureKeyVaultOptions extends CommonProviderOptions {
  [key: string]: unknown;
}

export class AzureKeyVaultProvider {
  constructor(_options: AzureKeyVaultOptions) {
    throw new StorageError({ code: 'Unsupported', message: 'provider not implemented yet' });
  }
}
