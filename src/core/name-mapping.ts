import { describeType, invalidArgument } from './arguments.js';
import { StorageError } from './errors.js';
import { CredentialId } from './id.js';

/**
 * How ids become backend names. One reversible, collision-free scheme with two alphabets:
 *
 * - `filesystem` (local files on case-insensitive or normalising filesystems such as macOS and Windows):
 *   `a-z`, `0-9`, `_` and `-` pass through; the escape character is `@`.
 * - `lowercase-dns` (Azure Key Vault's case-insensitive `[0-9a-zA-Z-]` names and Kubernetes' DNS-1123
 *   names): `a-z` and `0-9` pass through; the escape character is `-`.
 *
 * After the escape character:
 * - a lower-case letter stands for its upper-case form (`Token` becomes `@token` or `-token`);
 * - `1`, lower-case hex without leading zeros, and the escape character stand for any other code point
 *   (`é` becomes `@1e9@` or `-1e9-`);
 * - in `lowercase-dns` only: `-` stands for `_` (so `github_token` reads `github--token`), `0` for `-`,
 *   and `2` for nothing, a pad that keeps a name from ending in `-` where the backend requires that.
 *
 * Only lower-case letters, digits and the escape character ever appear, so names that differ only by case
 * cannot collide, Unicode normalisation by the filesystem cannot change a name, and decoding is exact.
 * Decoding accepts only the canonical form (it re-encodes and compares), so names the library did not
 * write are never mistaken for credentials.
 */
export type NameProfile = 'filesystem' | 'lowercase-dns';

interface ProfileRules {
  escape: string;
  passThrough: RegExp;
  /** Matches a whole id made only of pass-through characters: its name is the id itself. */
  allPassThrough: RegExp;
  literals: Readonly<Record<string, string>>;
}

const PROFILES: Record<NameProfile, ProfileRules> = {
  filesystem: { escape: '@', passThrough: /^[a-z0-9_-]$/, allPassThrough: /^[a-z0-9_-]*$/, literals: {} },
  'lowercase-dns': {
    escape: '-',
    passThrough: /^[a-z0-9]$/,
    allPassThrough: /^[a-z0-9]*$/,
    literals: { _: '-', '-': '0' },
  },
};

const PAD_CODE = '2';

function profileRules(profile: NameProfile): ProfileRules {
  if (typeof profile !== 'string' || !Object.hasOwn(PROFILES, profile)) {
    throw invalidArgument(
      `the name profile must be ${Object.keys(PROFILES)
        .map((p) => `"${p}"`)
        .join(' or ')} (got ${typeof profile === 'string' ? 'another string' : describeType(profile)})`,
    );
  }
  return PROFILES[profile];
}

/** Options of {@link encodeCredentialName}. */
export interface NameEncodingOptions {
  /** Raw text put before the encoded id (validated by the provider against its own rules). Default `''`. */
  prefix?: string;
  /** Longest allowed name, prefix included. Longer names throw `InvalidId` naming the limit. */
  maxLength?: number;
  /** Provider name, for the error. */
  provider?: string;
  /** Append a pad code when the name would end in `-` (Kubernetes names must end alphanumeric). */
  alphanumericEnd?: boolean;
}

/**
 * Encodes an id into a backend name. Lower-case ASCII ids stay readable.
 *
 * @example
 * ```ts
 * import { encodeCredentialName } from 'nebula-credential';
 * encodeCredentialName('github_token', 'filesystem'); // 'github_token'
 * encodeCredentialName('Token', 'filesystem'); // '@token'
 * encodeCredentialName('github_token', 'lowercase-dns', { prefix: 'nebula-' }); // 'nebula-github--token'
 * ```
 */
export function encodeCredentialName(
  id: CredentialId | string,
  profile: NameProfile,
  options: NameEncodingOptions = {},
): string {
  const value = CredentialId.from(id).value;
  const rules = profileRules(profile);
  let out = options.prefix ?? '';
  // Most ids are lower-case ASCII: one test of the whole id instead of one per character on every call.
  if (rules.allPassThrough.test(value)) out += value;
  else
    for (const ch of value) {
      if (rules.passThrough.test(ch)) out += ch;
      else if (rules.literals[ch] !== undefined) out += rules.escape + rules.literals[ch];
      else if (ch >= 'A' && ch <= 'Z') out += rules.escape + ch.toLowerCase();
      else out += `${rules.escape}1${ch.codePointAt(0)!.toString(16)}${rules.escape}`;
    }
  if (options.alphanumericEnd && out.endsWith('-')) out += rules.escape + PAD_CODE;
  if (options.maxLength !== undefined && out.length > options.maxLength) {
    throw new StorageError({
      code: 'InvalidId',
      message:
        `credential id is too long for ${options.provider ?? 'this backend'}: it maps to a ${out.length}-character ` +
        `name and the limit is ${options.maxLength} (upper-case and non-ASCII characters take more room)`,
      provider: options.provider,
      credentialId: value,
      details: { limit: options.maxLength, size: out.length },
    });
  }
  return out;
}

/**
 * Decodes a backend name written by {@link encodeCredentialName}; returns `undefined` for any name the
 * library did not write (wrong prefix, foreign characters, or a non-canonical form).
 *
 * @example
 * ```ts
 * import { decodeCredentialName } from 'nebula-credential';
 * decodeCredentialName('@token', 'filesystem')?.value; // 'Token'
 * decodeCredentialName('README.md', 'filesystem'); // undefined
 * ```
 */
export function decodeCredentialName(
  name: string,
  profile: NameProfile,
  options: Pick<NameEncodingOptions, 'prefix' | 'alphanumericEnd'> = {},
): CredentialId | undefined {
  const rules = profileRules(profile);
  if (typeof name !== 'string') {
    throw invalidArgument(`decodeCredentialName needs a name string (got ${describeType(name)})`);
  }
  const prefix = options.prefix ?? '';
  if (!name.startsWith(prefix)) return undefined;
  const body = name.slice(prefix.length);
  const reverseLiterals = new Map(Object.entries(rules.literals).map(([k, v]) => [v, k]));
  let value = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== rules.escape) {
      if (!rules.passThrough.test(ch)) return undefined;
      value += ch;
      continue;
    }
    const code = body[++i];
    if (code === undefined) return undefined;
    const literal = reverseLiterals.get(code);
    if (literal !== undefined) value += literal;
    else if (code >= 'a' && code <= 'z') value += code.toUpperCase();
    else if (code === '1') {
      const end = body.indexOf(rules.escape, i + 1);
      const hex = body.slice(i + 1, end);
      if (end < 0 || !/^[1-9a-f][0-9a-f]*$/.test(hex) || hex.length > 6) return undefined;
      const cp = Number.parseInt(hex, 16);
      if (cp > 0x10ffff) return undefined;
      value += String.fromCodePoint(cp);
      i = end;
    } else if (code !== PAD_CODE) return undefined;
  }
  if (!CredentialId.isValid(value)) return undefined;
  const canonical = encodeCredentialName(value, profile, {
    prefix,
    ...(options.alphanumericEnd ? { alphanumericEnd: true } : {}),
  });
  return canonical === name ? CredentialId.parse(value) : undefined;
}
