import { StorageError } from '../core/errors.js';
import type { CredentialId } from '../core/id.js';
import { assertTagLimits, type TagLimits } from '../core/limits.js';
import { decodeCredentialName, encodeCredentialName } from '../core/name-mapping.js';

/** Longest secret name AWS accepts. */
export const AWS_MAX_NAME_LENGTH = 512;
/** Largest SecretString AWS accepts, in bytes. */
export const AWS_MAX_SECRET_BYTES = 65_536;
/** Characters AWS allows in a secret name. */
export const AWS_NAME_CHARSET = /^[A-Za-z0-9/_+=.@-]*$/;
// A name ending in "-" plus six characters is read as a partial ARN ("name-AbCdEf") by lookups.
const ARN_SUFFIX_CLASH = /-.{6}$/u;
// Appended (repeatedly) until the name no longer ends like an ARN suffix. "@2" never ends a canonical
// filesystem-profile name except after a closed code-point escape, so stripping it is unambiguous.
const PAD = '@2';

/**
 * AWS's tag rules (Secrets Manager, tagging API): 50 tags, keys 1-128, values 0-256, `aws:` reserved.
 *
 * @example
 * ```ts
 * import { AWS_TAG_LIMITS } from 'nebula-credential/aws';
 * import { assertTagLimits } from 'nebula-credential';
 * assertTagLimits({ env: 'prod' }, AWS_TAG_LIMITS, { provider: 'aws-secrets-manager' });
 * ```
 */
export const AWS_TAG_LIMITS: TagLimits = {
  maxTags: 50,
  maxKeyLength: 128,
  maxValueLength: 256,
  keyPattern: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u,
  valuePattern: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u,
  charsetRule: 'letters, digits, spaces and _ . : / = + - @',
  reservedPrefixes: ['aws:'],
};

/** Values ListSecrets filters accept (ASCII only; a leading "!" would negate). */
export const AWS_FILTER_VALUE = /^[a-zA-Z0-9 :_@/+=.-]{1,512}$/;

/**
 * Maps credential ids to AWS secret names and back. It uses the core `filesystem` profile: `a-z`, `0-9`,
 * `_` and `-` stay as they are and everything else is escaped with `@` (an AWS name character), so
 * `github_token` stays readable, `Token` becomes `@token`, and `é` becomes `@1e9@`. When the result would end
 * in `-` plus six characters (which AWS lookups read as an ARN suffix), `@2` is appended.
 *
 * @example
 * ```ts
 * import { AwsSecretNames } from 'nebula-credential/aws';
 * const names = new AwsSecretNames('nebula/credentials/');
 * names.encode('Token'); // 'nebula/credentials/@token'
 * names.decode('nebula/credentials/@token')?.value; // 'Token'
 * ```
 */
export class AwsSecretNames {
  /** Put before every secret name (`nebula/credentials/` by default). */
  readonly prefix: string;

  /** Names under `prefix`. */
  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The secret name of `id`; throws `InvalidId` naming the 512-character limit when it is too long. */
  encode(id: CredentialId | string, provider = 'aws-secrets-manager'): string {
    let name = encodeCredentialName(id, 'filesystem', { prefix: this.prefix });
    while (ARN_SUFFIX_CLASH.test(name)) name += PAD;
    if (name.length > AWS_MAX_NAME_LENGTH) {
      throw new StorageError({
        code: 'InvalidId',
        message:
          `credential id is too long for ${provider}: it maps to the ${name.length}-character secret name and AWS ` +
          `allows ${AWS_MAX_NAME_LENGTH} (upper-case and non-ASCII characters take more room; a shorter prefix helps)`,
        provider,
        credentialId: typeof id === 'string' ? id : id.value,
        details: { limit: AWS_MAX_NAME_LENGTH, size: name.length },
      });
    }
    return name;
  }

  /** The id a secret name stands for, or `undefined` for names this library did not write. */
  decode(name: string): CredentialId | undefined {
    let candidate = name;
    for (;;) {
      const id = decodeCredentialName(candidate, 'filesystem', { prefix: this.prefix });
      if (id && this.#encodesTo(id, name)) return id;
      if (!candidate.endsWith(PAD) || candidate.length - PAD.length < this.prefix.length) return undefined;
      candidate = candidate.slice(0, -PAD.length);
    }
  }

  #encodesTo(id: CredentialId, name: string): boolean {
    try {
      return this.encode(id) === name;
    } catch {
      return false;
    }
  }
}

/** Checks the tags AWS will receive (default tags plus metadata tags) before any request. */
export function assertAwsTags(
  tags: Record<string, string>,
  context: { provider: string; credentialId?: string },
): void {
  assertTagLimits(tags, AWS_TAG_LIMITS, context);
}
