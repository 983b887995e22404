// PLACEHOLDER: replaced by the provider's implementation (see its issue).
import { StorageError } from '../core/errors.js';
import type { CommonProviderOptions } from '../core/options.js';

export interface HashiCorpVaultOptions extends CommonProviderOptions {
  [key: string]: unknown;
}

export class HashiCorpVaultProvider {
  constructor(_options: HashiCorpVaultOptions) {
    throw new StorageError({ code: 'Unsupported', message: 'provider not implemented yet' });
  }
}
