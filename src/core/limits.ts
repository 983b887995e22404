import type { EncryptedData } from './crypto.js';
import { StorageError } from './errors.js';

/**
 * Throws `SizeLimitExceeded` (with size, limit and provider) when `size` bytes exceed `limit`. Providers call
 * it before any network or disk work.
 *
 * @example
 * ```ts
 * import { assertWithinSizeLimit } from 'nebula-credential';
 * assertWithinSizeLimit(70_000, 65_536, { provider: 'aws-secrets-manager', credentialId: 'big' }); // throws
 * ```
 */
export function assertWithinSizeLimit(
  size: number,
  limit: number,
  context: { provider: string; credentialId?: string | undefined; what?: string | undefined },
): void {
  if (size <= limit) return;
  throw new StorageError({
    code: 'SizeLimitExceeded',
    message:
      `${context.what ?? 'credential'} is ${size} bytes, over the ${limit}-byte limit of ${context.provider}; ` +
      'store a smaller value or choose a backend with a larger limit',
    provider: context.provider,
    operation: 'store',
    credentialId: context.credentialId,
    retryable: false,
    details: { size, limit },
  });
}

/**
 * Checks the ciphertext of `data` against a provider's `maxCredentialSize`.
 *
 * @example
 * ```ts
 * import { assertCredentialSize, EncryptionManager } from 'nebula-credential';
 * assertCredentialSize(EncryptionManager.generate().encrypt(Buffer.alloc(10)), 1024, { provider: 'memory' });
 * ```
 */
export function assertCredentialSize(
  data: EncryptedData,
  limit: number,
  context: { provider: string; credentialId?: string | undefined },
): void {
  assertWithinSizeLimit(data.ciphertext.length, limit, context);
}

/** One tag rule violation, reported through {@link assertTagLimits}. */
export interface TagLimits {
  maxTags?: number;
  maxKeyLength?: number;
  maxValueLength?: number;
  /** Count length in UTF-8 bytes instead of UTF-16 code units. */
  lengthInBytes?: boolean;
  keyPattern?: RegExp;
  valuePattern?: RegExp;
  /** Describes the patterns for the message, e.g. "letters, digits, spaces and _ . : / = + - @". */
  charsetRule?: string;
  /** Tag keys the backend reserves (prefixes), e.g. `aws:`. */
  reservedPrefixes?: readonly string[];
}

/**
 * Throws `InvalidMetadata` listing every tag that breaks the backend's rules, before any request.
 * Tags are named by position and length, never by content.
 *
 * @example
 * ```ts
 * import { assertTagLimits } from 'nebula-credential';
 * assertTagLimits({ env: 'prod' }, { maxTags: 15, maxKeyLength: 512, maxValueLength: 256 }, { provider: 'azure-key-vault' });
 * ```
 */
export function assertTagLimits(
  tags: Record<string, string>,
  limits: TagLimits,
  context: { provider: string; credentialId?: string | undefined },
): void {
  const problems: string[] = [];
  const entries = Object.entries(tags);
  const len = (s: string) => (limits.lengthInBytes ? Buffer.byteLength(s, 'utf8') : s.length);
  const unit = limits.lengthInBytes ? 'bytes' : 'characters';
  if (limits.maxTags !== undefined && entries.length > limits.maxTags) {
    problems.push(`${entries.length} tags, the limit is ${limits.maxTags}`);
  }
  entries.forEach(([key, value], i) => {
    const n = `tag #${i + 1}`;
    if (limits.maxKeyLength !== undefined && len(key) > limits.maxKeyLength) {
      problems.push(`${n} has a ${len(key)}-${unit} key, the limit is ${limits.maxKeyLength}`);
    }
    if (limits.maxValueLength !== undefined && len(value) > limits.maxValueLength) {
      problems.push(`${n} has a ${len(value)}-${unit} value, the limit is ${limits.maxValueLength}`);
    }
    if (limits.keyPattern && !limits.keyPattern.test(key)) {
      problems.push(
        `${n} key has characters the backend refuses${limits.charsetRule ? ` (allowed: ${limits.charsetRule})` : ''}`,
      );
    }
    if (limits.valuePattern && !limits.valuePattern.test(value)) {
      problems.push(
        `${n} value has characters the backend refuses${limits.charsetRule ? ` (allowed: ${limits.charsetRule})` : ''}`,
      );
    }
    const reserved = limits.reservedPrefixes?.find((p) => key.toLowerCase().startsWith(p));
    if (reserved) problems.push(`${n} key starts with the reserved prefix "${reserved}"`);
  });
  if (problems.length === 0) return;
  throw new StorageError({
    code: 'InvalidMetadata',
    message: `credential tags break the rules of ${context.provider}: ${problems.join('; ')}`,
    provider: context.provider,
    operation: 'store',
    credentialId: context.credentialId,
    retryable: false,
    details: { problems, ...(limits.maxTags !== undefined ? { limit: limits.maxTags } : {}) },
  });
}
