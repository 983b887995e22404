import type {
  ListOptions,
  Page,
  SecretManagerState,
  SecretRecord,
  SecretSpec,
  VersionRecord,
} from './gcp-state.js';
import { accessMessage, secretMessage, versionMessage, type WireEncoding } from './gcp-wire.js';

// The calls of SecretManagerService as both transports decode them, and their results before encoding:
// the seam between the wire (gcp-grpc.ts, gcp-rest.ts) and the shared state.

/** A decoded request of one RPC. */
export type ApiRequest =
  | { rpc: 'CreateSecret'; parent: string; secretId: string; secret: SecretSpec }
  | { rpc: 'GetSecret'; name: string }
  | { rpc: 'UpdateSecret'; name: string; secret: SecretSpec; updateMask: string[] }
  | { rpc: 'DeleteSecret'; name: string; etag: string | undefined }
  | { rpc: 'ListSecrets'; parent: string; options: ListOptions }
  | { rpc: 'AddSecretVersion'; parent: string; data: Buffer; dataCrc32c: bigint | undefined }
  | { rpc: 'AccessSecretVersion' | 'GetSecretVersion'; name: string }
  | { rpc: 'ListSecretVersions'; parent: string; options: ListOptions }
  | {
      rpc: 'EnableSecretVersion' | 'DisableSecretVersion' | 'DestroySecretVersion';
      name: string;
      etag: string | undefined;
    };

/** What an RPC produced, before it is encoded for a transport. */
export type ApiResult =
  | { kind: 'secret'; secret: SecretRecord }
  | { kind: 'version'; secret: SecretRecord; version: VersionRecord }
  | { kind: 'access'; secret: SecretRecord; version: VersionRecord; data: Buffer }
  | { kind: 'secrets'; page: Page<SecretRecord> }
  | { kind: 'versions'; secret: SecretRecord; page: Page<VersionRecord> }
  | { kind: 'empty' };

/** The resource an RPC acts on, as the caller named it (what PERMISSION_DENIED messages quote). */
export function resourceOf(request: ApiRequest): string {
  return 'name' in request ? request.name : request.parent;
}

/** Runs a decoded request against the state. */
export function runRequest(state: SecretManagerState, request: ApiRequest): ApiResult {
  switch (request.rpc) {
    case 'CreateSecret':
      return { kind: 'secret', secret: state.createSecret(request.parent, request.secretId, request.secret) };
    case 'GetSecret':
      return { kind: 'secret', secret: state.getSecret(request.name) };
    case 'UpdateSecret':
      return { kind: 'secret', secret: state.updateSecret(request.name, request.secret, request.updateMask) };
    case 'DeleteSecret':
      state.deleteSecret(request.name, request.etag);
      return { kind: 'empty' };
    case 'ListSecrets':
      return { kind: 'secrets', page: state.listSecrets(request.parent, request.options) };
    case 'AddSecretVersion':
      return { kind: 'version', ...state.addVersion(request.parent, request.data, request.dataCrc32c) };
    case 'AccessSecretVersion':
      return { kind: 'access', ...state.accessVersion(request.name) };
    case 'GetSecretVersion':
      return { kind: 'version', ...state.getVersion(request.name) };
    case 'ListSecretVersions':
      return {
        kind: 'versions',
        secret: state.getSecret(request.parent),
        page: state.listVersions(request.parent, request.options),
      };
    case 'EnableSecretVersion':
      return { kind: 'version', ...state.changeVersion(request.name, 'enable', request.etag) };
    case 'DisableSecretVersion':
      return { kind: 'version', ...state.changeVersion(request.name, 'disable', request.etag) };
    case 'DestroySecretVersion':
      return { kind: 'version', ...state.changeVersion(request.name, 'destroy', request.etag) };
  }
}

/** The response message of a result in one transport's encoding. */
export function resultMessage(
  state: SecretManagerState,
  result: ApiResult,
  enc: WireEncoding,
): Record<string, unknown> {
  switch (result.kind) {
    case 'secret':
      return secretMessage(state, result.secret, enc);
    case 'version':
      return versionMessage(state, result.secret, result.version, enc);
    case 'access':
      return accessMessage(state, result.secret, result.version, result.data, enc);
    case 'secrets':
      return listMessage('secrets', result.page, (s) => secretMessage(state, s, enc));
    case 'versions':
      return listMessage('versions', result.page, (v) => versionMessage(state, result.secret, v, enc));
    case 'empty':
      return {};
  }
}

/** A list response; empty fields are left out, as proto3 JSON does (an empty list is `{}`). */
function listMessage<T>(
  field: string,
  page: Page<T>,
  item: (t: T) => Record<string, unknown>,
): Record<string, unknown> {
  return {
    ...(page.items.length ? { [field]: page.items.map(item) } : {}),
    ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
    ...(page.totalSize ? { totalSize: page.totalSize } : {}),
  };
}
