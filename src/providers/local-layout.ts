import { CredentialId, MAX_CREDENTIAL_ID_BYTES } from '../core/id.js';
import { decodeCredentialName, encodeCredentialName } from '../core/name-mapping.js';

/** Suffix of a credential file. */
export const CREDENTIAL_SUFFIX = '.enc';
/** Suffix of a directory holding the next piece of a long encoded name. */
export const SEGMENT_DIR_SUFFIX = '.d';
/**
 * Longest piece of an encoded name in one path component. 128 characters plus a suffix stays under the
 * 255-byte NAME_MAX of ext4, XFS, APFS and NTFS, and under eCryptfs' 143-character limit for encrypted names.
 */
export const SEGMENT_CHARS = 128;
/** Prefix of an in-flight write; the pid after it lets `connect()` tell a dead writer's leftovers. */
export const TEMP_PREFIX = '.nebula-tmp-';
/** Prefix of a credential renamed away by `delete` while it is being overwritten. */
export const TOMB_PREFIX = '.nebula-del-';
/** Directory (inside the credential directory) of the per-id lock directories. */
export const LOCKS_DIR = '.nebula-locks';

/**
 * The path components, relative to the credential directory, of the file holding `id`.
 *
 * The id is encoded with the `filesystem` profile of {@link encodeCredentialName} (only `a-z 0-9 _ - @`
 * appear). An encoded name of at most {@link SEGMENT_CHARS} characters is one file, `<name>.enc`. A longer one
 * (a 255-byte id of upper-case or non-Latin letters encodes to up to 765 characters) is cut into pieces of
 * exactly {@link SEGMENT_CHARS} characters, each but the last a directory `<piece>.d`, the last a file
 * `<piece>.enc`. `.` never occurs in an encoded name, so a piece directory can never be mistaken for a
 * credential file, and joining the pieces gives the encoded name back: `list` reads names only.
 *
 * @example
 * ```ts
 * import { credentialPathParts } from 'nebula-credential/local';
 * credentialPathParts('github_token'); // ['github_token.enc']
 * credentialPathParts('Token'); // ['@token.enc']
 * credentialPathParts('a'.repeat(255)); // ['aaa…(128).d', 'aaa…(127).enc']
 * ```
 */
export function credentialPathParts(id: CredentialId | string): string[] {
  const encoded = encodeCredentialName(id, 'filesystem');
  const parts: string[] = [];
  for (let i = 0; i < encoded.length; i += SEGMENT_CHARS) parts.push(encoded.slice(i, i + SEGMENT_CHARS));
  return parts.map((p, i) => p + (i === parts.length - 1 ? CREDENTIAL_SUFFIX : SEGMENT_DIR_SUFFIX));
}

/**
 * The id stored at `parts` (relative path components), or `undefined` when the path is not exactly what
 * {@link credentialPathParts} would produce for some id (foreign files, non-canonical splits, stray names).
 *
 * @example
 * ```ts
 * import { idFromPathParts } from 'nebula-credential/local';
 * idFromPathParts(['@token.enc'])?.value; // 'Token'
 * idFromPathParts(['notes.txt']); // undefined
 * ```
 */
export function idFromPathParts(parts: readonly string[]): CredentialId | undefined {
  const value = idValueFromPathParts(parts);
  return value === undefined ? undefined : CredentialId.parse(value);
}

/** {@link idFromPathParts} as a plain string, without building an id object (the hot path of `list`). */
export function idValueFromPathParts(parts: readonly string[]): string | undefined {
  if (parts.length === 0) return undefined;
  let encoded = '';
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    const suffix = last ? CREDENTIAL_SUFFIX : SEGMENT_DIR_SUFFIX;
    const part = parts[i]!;
    if (!part.endsWith(suffix)) return undefined;
    const piece = part.slice(0, -suffix.length);
    if (piece.length === 0 || piece.length > SEGMENT_CHARS || (!last && piece.length !== SEGMENT_CHARS)) {
      return undefined;
    }
    encoded += piece;
  }
  // Fast path for the common case: plain lower-case names decode to themselves, are canonical, and are valid
  // ids exactly when they fit in MAX_CREDENTIAL_ID_BYTES (ASCII is one byte per character).
  if (PLAIN.test(encoded)) return encoded.length <= MAX_CREDENTIAL_ID_BYTES ? encoded : undefined;
  return decodeCredentialName(encoded, 'filesystem')?.value;
}

const PLAIN = /^[a-z0-9_-]+$/;

/** True for names the provider writes besides credentials: never listed, never decoded. */
export function isInternalName(name: string): boolean {
  return name.startsWith('.');
}
