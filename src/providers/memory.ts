import { BaseStorageProvider } from '../core/base-provider.js';
import type { EncryptedData } from '../core/crypto.js';
import { StorageError, type StorageErrorCode } from '../core/errors.js';
import type { CredentialId } from '../core/id.js';
import {
  type CredentialFilter,
  type CredentialMetadata,
  matchesFilter,
  metadataForOverwrite,
} from '../core/metadata.js';
import type { AttemptContext } from '../core/operation.js';
import type {
  ProviderCapabilities,
  ProviderHealthFacts,
  StoredCredential,
  StoreOptions,
  VersionProbe,
} from '../core/provider.js';
import { MEMORY, MEMORY_OPTIONS, type MemoryStorageOptions } from './memory-options.js';

export { MEMORY, MEMORY_OPTIONS, type MemoryStorageOptions } from './memory-options.js';

const PROVIDER_NAME = MEMORY;

/** A fault the memory provider injects into upcoming operations. */
export interface MemoryFault {
  /** The error code to fail with. */
  code: StorageErrorCode;
  /** How many operations fail. Default 1. */
  times?: number;
  /** Only these operations fail (default: any). */
  operations?: readonly (
    | 'connect'
    | 'store'
    | 'retrieve'
    | 'delete'
    | 'list'
    | 'exists'
    | 'describeVersion'
    | 'listVersions'
  )[];
  /** Marks the error retryable or not (default: the code's usual behaviour). */
  retryable?: boolean;
}

interface Entry {
  data: EncryptedData;
  metadata: CredentialMetadata;
  version: number;
}

/**
 * Keeps credentials in a Map: for application tests. Supports fault injection (fail the next N operations
 * with a given code), added latency, and counts every backend call in `calls`.
 *
 * @example
 * ```ts
 * import { MemoryStorageProvider } from 'nebula-credential/memory';
 * const provider = new MemoryStorageProvider();
 * provider.failNext({ code: 'Unavailable', times: 2 }); // the next two operations fail, then retries succeed
 * provider.setLatency(5);
 * ```
 */
export class MemoryStorageProvider extends BaseStorageProvider {
  /** The provider's name: `'memory'`. */
  readonly name = PROVIDER_NAME;
  /**
   * What this backend allows: `maxCredentialSize`, ids of up to 255 bytes, tag filtering in the Map; nothing
   * survives the process.
   */
  readonly capabilities: ProviderCapabilities;
  /** Backend calls made, retries included, by operation. */
  readonly calls: Record<string, number> = {};
  readonly #entries = new Map<string, Entry>();
  #faults: (MemoryFault & { times: number })[] = [];
  #latencyMs = 0;

  /** Validates `options` (`InvalidConfig`); the Map starts empty. */
  constructor(options: MemoryStorageOptions = {}) {
    const { values, secrets } = MEMORY_OPTIONS.resolve(options);
    super({
      name: PROVIDER_NAME,
      common: values,
      secrets,
    });
    this.capabilities = {
      maxCredentialSize: values.maxCredentialSize,
      maxIdBytes: 255,
      versioning: false,
      softDelete: false,
      nativeTagFiltering: true,
      createOnly: 'atomic',
      persistent: false,
    };
  }

  /** Makes upcoming operations fail with `fault.code`. */
  failNext(fault: MemoryFault): void {
    this.#faults.push({ times: 1, ...fault });
  }

  /** Drops every pending fault. */
  clearFaults(): void {
    this.#faults = [];
  }

  /** Adds `ms` of latency to every backend call (honouring the deadline). */
  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }

  protected async connectBackend(a: AttemptContext): Promise<void> {
    await this.#simulate('connect', a);
  }

  protected async storeBackend(
    id: CredentialId,
    data: EncryptedData,
    metadata: CredentialMetadata,
    a: AttemptContext,
    options: StoreOptions,
  ): Promise<CredentialMetadata> {
    await this.#simulate('store', a);
    const previous = this.#entries.get(id.value);
    if (previous && options.createOnly) throw this.alreadyExists(id);
    const written = metadataForOverwrite(previous?.metadata, metadata, options);
    this.#entries.set(id.value, {
      data: cloneData(data),
      metadata: cloneMetadata(written),
      version: (previous?.version ?? 0) + 1,
    });
    return cloneMetadata(written);
  }

  protected async retrieveBackend(id: CredentialId, a: AttemptContext): Promise<StoredCredential> {
    await this.#simulate('retrieve', a);
    const entry = this.#entries.get(id.value);
    if (!entry) throw this.notFound(id);
    return {
      data: cloneData(entry.data),
      metadata: cloneMetadata(entry.metadata),
      version: String(entry.version),
    };
  }

  protected async deleteBackend(id: CredentialId, a: AttemptContext): Promise<void> {
    await this.#simulate('delete', a);
    this.#entries.delete(id.value);
  }

  protected async listBackend(filter: CredentialFilter | undefined, a: AttemptContext): Promise<string[]> {
    await this.#simulate('list', a);
    return [...this.#entries.entries()]
      .filter(([, e]) => matchesFilter(e.metadata, filter))
      .map(([id]) => id);
  }

  protected async existsBackend(id: CredentialId, a: AttemptContext): Promise<boolean> {
    await this.#simulate('exists', a);
    return this.#entries.has(id.value);
  }

  /** The entry's version counter: no value is copied. */
  protected override async describeVersionBackend(
    id: CredentialId,
    a: AttemptContext,
  ): Promise<VersionProbe | undefined> {
    await this.#simulate('describeVersion', a);
    const entry = this.#entries.get(id.value);
    return entry ? { version: String(entry.version) } : undefined;
  }

  protected override async listVersionsBackend(
    filter: CredentialFilter | undefined,
    a: AttemptContext,
  ): Promise<Map<string, VersionProbe>> {
    await this.#simulate('listVersions', a);
    const out = new Map<string, VersionProbe>();
    for (const [id, e] of this.#entries) {
      if (matchesFilter(e.metadata, filter)) out.set(id, { version: String(e.version) });
    }
    return out;
  }

  protected override describeHealth(): ProviderHealthFacts {
    return { credentialSource: 'in-process memory', auth: { kind: 'none' }, entries: this.#entries.size };
  }

  async #simulate(
    operation: NonNullable<MemoryFault['operations']>[number],
    a: AttemptContext,
  ): Promise<void> {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
    if (this.#latencyMs > 0) await this.common.clock.sleep(this.#latencyMs, a.signal);
    const fault = this.#faults.find((f) => !f.operations || f.operations.includes(operation));
    if (!fault) return;
    fault.times--;
    if (fault.times <= 0) this.#faults.splice(this.#faults.indexOf(fault), 1);
    throw new StorageError({
      code: fault.code,
      message: `injected ${fault.code} fault`,
      provider: PROVIDER_NAME,
      operation,
      ...(fault.retryable === undefined ? {} : { retryable: fault.retryable }),
    });
  }
}

function cloneData(data: EncryptedData): EncryptedData {
  return {
    version: data.version,
    keyId: data.keyId,
    nonce: Uint8Array.from(data.nonce),
    ciphertext: Uint8Array.from(data.ciphertext),
    tag: Uint8Array.from(data.tag),
  };
}

function cloneMetadata(metadata: CredentialMetadata): CredentialMetadata {
  const copy: CredentialMetadata = {
    createdAt: new Date(metadata.createdAt),
    lastModified: new Date(metadata.lastModified),
    tags: { ...metadata.tags },
  };
  if (metadata.lastAccessed) copy.lastAccessed = new Date(metadata.lastAccessed);
  if (metadata.rotationPolicy) copy.rotationPolicy = { ...metadata.rotationPolicy };
  return copy;
}
