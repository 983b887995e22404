import {
  type EncryptedData,
  type EncryptedDataJson,
  encryptedDataFromJson,
  encryptedDataToJson,
} from './crypto.js';
import { StorageError } from './errors.js';
import { assertWithinSizeLimit } from './limits.js';
import {
  type CredentialMetadata,
  type CredentialMetadataJson,
  metadataFromJson,
  metadataToJson,
} from './metadata.js';

/**
 * Identifies a stored credential document and its layout version.
 *
 * @example
 * ```ts
 * import { CREDENTIAL_DOCUMENT_FORMAT } from 'nebula-credential';
 * const ours = JSON.parse(text).format === CREDENTIAL_DOCUMENT_FORMAT;
 * ```
 */
export const CREDENTIAL_DOCUMENT_FORMAT = 'nebula-credential/v1';

/**
 * The JSON document that providers without native metadata fields store: the encrypted data and the
 * metadata side by side, so `retrieve` returns both exactly. Local files, AWS SecretString, Vault data and
 * Kubernetes Secret data all use this one layout.
 */
export interface CredentialDocument {
  format: typeof CREDENTIAL_DOCUMENT_FORMAT;
  data: EncryptedDataJson;
  metadata: CredentialMetadataJson;
}

/** The fixed start of every document, up to the encrypted data's version. */
const DOCUMENT_HEAD = `{"format":${JSON.stringify(CREDENTIAL_DOCUMENT_FORMAT)},"data":{"version":`;

/**
 * Serialises encrypted data and metadata into the document JSON text.
 *
 * @example
 * ```ts
 * import { encodeCredentialDocument, decodeCredentialDocument, EncryptionManager, createMetadata } from 'nebula-credential';
 * const text = encodeCredentialDocument(EncryptionManager.generate().encrypt(Buffer.from('x')), createMetadata());
 * const { data, metadata } = decodeCredentialDocument(text);
 * ```
 */
export function encodeCredentialDocument(data: EncryptedData, metadata: CredentialMetadata): string {
  let head = callScopedHeads.get(data);
  if (head === undefined) {
    const json = encryptedDataToJson(data);
    // Exactly JSON.stringify of a CredentialDocument, built by hand: the base64 fields (nearly all of the
    // text) need no escaping, and scanning them for it was most of the encoding time on every write.
    head = `${DOCUMENT_HEAD}${JSON.stringify(json.version)},"keyId":${JSON.stringify(json.keyId)},"nonce":"${json.nonce}","ciphertext":"${json.ciphertext}","tag":"${json.tag}"},"metadata":`;
    if (callScopedHeads.has(data)) callScopedHeads.set(data, head);
  }
  return `${head}${JSON.stringify(metadataToJson(metadata))}}`;
}

/** The wrappers made by {@link callScopedData}, each with its encoded data part once it is encoded. */
const callScopedHeads = new WeakMap<EncryptedData, string | undefined>();

/**
 * A fresh wrapper of `data` for one store call, whose encoded data part (the base64 ciphertext, nearly the
 * whole document) is kept after the first encoding: the size check before any I/O and the write with the
 * overwrite rule's metadata then encode it once. Only these wrappers are remembered, so a caller encoding
 * its own object twice, bytes changed in between, always gets the current bytes.
 *
 * @internal
 */
export function callScopedData(data: EncryptedData): EncryptedData {
  const scoped: EncryptedData = {
    version: data.version,
    keyId: data.keyId,
    nonce: data.nonce,
    ciphertext: data.ciphertext,
    tag: data.tag,
  };
  callScopedHeads.set(scoped, undefined);
  return scoped;
}

/**
 * Parses a document; anything malformed throws `Corrupted` (with `credentialId` when given).
 *
 * @example
 * ```ts
 * import { decodeCredentialDocument } from 'nebula-credential';
 * try { decodeCredentialDocument('{oops', 'api_key'); } catch (e) { console.log(e.code); } // Corrupted
 * ```
 */
export function decodeCredentialDocument(
  text: string | Uint8Array,
  credentialId?: string,
): { data: EncryptedData; metadata: CredentialMetadata } {
  try {
    const json: unknown = JSON.parse(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'));
    if (typeof json !== 'object' || json === null) throw corrupted('not a JSON object');
    const doc = json as Record<string, unknown>;
    if (doc['format'] !== CREDENTIAL_DOCUMENT_FORMAT) {
      throw corrupted(
        typeof doc['format'] === 'string' && doc['format'].startsWith('nebula-credential/')
          ? `written in format ${doc['format']}, which this release does not read (upgrade nebula-credential)`
          : 'not a nebula-credential document',
      );
    }
    return { data: encryptedDataFromJson(doc['data']), metadata: metadataFromJson(doc['metadata']) };
  } catch (error) {
    const base =
      error instanceof StorageError ? error : corrupted('not valid JSON (truncated or overwritten?)', error);
    throw base.withContext({ credentialId });
  }
}

function corrupted(why: string, cause?: unknown): StorageError {
  return new StorageError({ code: 'Corrupted', message: `stored credential is unreadable: ${why}`, cause });
}

/**
 * Encodes the document and checks its UTF-8 size against a backend's limit, before any I/O: what a
 * provider's `prepareStore` typically hands its `storeBackend`. Too large is `SizeLimitExceeded`.
 *
 * @example
 * ```ts
 * import { encodeCredentialDocumentWithin, createMetadata, EncryptionManager } from 'nebula-credential';
 * const data = EncryptionManager.generate().encrypt(Buffer.from('v'));
 * const text = encodeCredentialDocumentWithin(data, createMetadata(), 65_536, {
 *   provider: 'kv', credentialId: 'api_key', what: 'the stored document' });
 * ```
 */
export function encodeCredentialDocumentWithin(
  data: EncryptedData,
  metadata: CredentialMetadata,
  maxBytes: number,
  context: { provider: string; credentialId: string; what: string },
): string {
  const text = encodeCredentialDocument(data, metadata);
  assertWithinSizeLimit(Buffer.byteLength(text, 'utf8'), maxBytes, context);
  return text;
}
