import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type * as GrpcJs from '@grpc/grpc-js';
import { loadPeerPackages } from '../../core/peer.js';
import type { ApiRequest } from './gcp-api.js';
import { GCP_RPCS, type GcpRpc } from './gcp-iam.js';
import { type GcpError, grpcStatusDetails } from './gcp-status.js';
import { decodePayload, decodeSecret, GRPC_DECODING } from './gcp-wire.js';

// The gRPC transport: google.cloud.secretmanager.v1.SecretManagerService loaded from the service's own
// .proto files (those @google-cloud/secret-manager ships, plus google-gax's for google/api, google/iam,
// google/rpc and google/protobuf), served by @grpc/grpc-js. Both packages are imported only when the
// emulator starts: they are not runtime dependencies of nebula-credential, and users of this emulator
// already have them through the SDK. grpc-js accepts connections the emulator's TLS front door hands it
// (already decrypted), so REST and gRPC share one port as on secretmanager.googleapis.com.

const EMULATOR = 'gcp-secret-manager emulator';
const SERVICE = 'google.cloud.secretmanager.v1.SecretManagerService';

/** What the emulator answers to one gRPC call. */
export type GrpcOutcome =
  | { kind: 'ok'; message: Record<string, unknown> }
  | { kind: 'error'; error: GcpError }
  | { kind: 'reset' }
  | { kind: 'hang' };

/** Handles one call: the RPC, a decoder for its request, the call's metadata (text headers) and peer. */
export type GrpcCallHandler = (
  rpc: GcpRpc,
  decode: () => ApiRequest,
  metadata: Record<string, string>,
  peer: string,
) => Promise<GrpcOutcome>;

/** The include directories holding service.proto and everything it imports. */
function protoIncludeDirs(): string[] {
  const bases = [import.meta.url, pathToFileURL(join(process.cwd(), 'package.json')).href];
  for (const base of bases) {
    try {
      const sdk = createRequire(base).resolve('@google-cloud/secret-manager/package.json');
      // google-gax has an export map without package.json; its main module sits in build/src.
      const gaxMain = createRequire(sdk).resolve('google-gax');
      return [join(dirname(sdk), 'build', 'protos'), join(dirname(gaxMain), '..', 'protos')];
    } catch {
      // try the next base
    }
  }
  return [];
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');
const optional = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

function listOptions(r: Record<string, unknown>) {
  return {
    pageSize: typeof r['pageSize'] === 'number' ? r['pageSize'] : undefined,
    pageToken: optional(r['pageToken']),
    filter: optional(r['filter']),
  };
}

/** A proto-loader request object as the request the state runs. */
export function decodeGrpcRequest(rpc: GcpRpc, r: Record<string, unknown>): ApiRequest {
  switch (rpc) {
    case 'CreateSecret':
      return {
        rpc,
        parent: str(r['parent']),
        secretId: str(r['secretId']),
        secret: decodeSecret(r['secret'] ?? {}, GRPC_DECODING),
      };
    case 'UpdateSecret': {
      const secret = decodeSecret(r['secret'] ?? {}, GRPC_DECODING);
      const mask = (r['updateMask'] as { paths?: unknown } | undefined)?.paths;
      return {
        rpc,
        name: secret.name ?? '',
        secret,
        updateMask: Array.isArray(mask) ? mask.map(String) : [],
      };
    }
    case 'ListSecrets':
    case 'ListSecretVersions':
      return { rpc, parent: str(r['parent']), options: listOptions(r) };
    case 'AddSecretVersion':
      return { rpc, parent: str(r['parent']), ...decodePayload(r['payload'] ?? {}, GRPC_DECODING) };
    case 'DeleteSecret':
    case 'EnableSecretVersion':
    case 'DisableSecretVersion':
    case 'DestroySecretVersion':
      return { rpc, name: str(r['name']), etag: optional(r['etag']) };
    case 'GetSecret':
    case 'GetSecretVersion':
    case 'AccessSecretVersion':
      return { rpc, name: str(r['name']) };
  }
}

/**
 * The gRPC server of the emulator, fed connections by its TLS front door.
 *
 * @example
 * ```ts
 * const grpc = await GcpGrpcTransport.load(async (rpc, decode) => ({ kind: 'ok', message: {} }));
 * grpc.injectConnection(tlsSocket); // an ALPN "h2" connection
 * ```
 */
export class GcpGrpcTransport {
  readonly #stop: () => void;
  readonly #inject: (socket: Duplex) => void;

  private constructor(inject: (socket: Duplex) => void, stop: () => void) {
    this.#inject = inject;
    this.#stop = stop;
  }

  /** Loads grpc-js, proto-loader and the service definition, and builds the server. */
  static async load(handler: GrpcCallHandler): Promise<GcpGrpcTransport> {
    // Both at once, so a missing pair is named in one MissingDependency (the kit's peer loader).
    const peers = await loadPeerPackages(EMULATOR, [
      { name: '@grpc/grpc-js', range: '^1.12', load: () => import('@grpc/grpc-js') },
      { name: '@grpc/proto-loader', range: '^0.8', load: () => import('@grpc/proto-loader') },
    ]);
    const grpc = peers.get('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
    const loader = peers.get('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
    const includeDirs = protoIncludeDirs();
    if (includeDirs.length === 0) {
      throw new Error(
        `the ${EMULATOR} loads the service's .proto files from @google-cloud/secret-manager: run npm install @google-cloud/secret-manager`,
      );
    }
    const definition = await loader.load('google/cloud/secretmanager/v1/service.proto', {
      includeDirs,
      keepCase: false,
      longs: String,
      enums: String,
      defaults: false,
      oneofs: true,
    });
    const service = definition[SERVICE] as GrpcJs.ServiceDefinition;
    const server = new grpc.Server({ 'grpc.max_receive_message_length': 8 * 1024 * 1024 });
    const implementation: GrpcJs.UntypedServiceImplementation = {};
    for (const rpc of GCP_RPCS) {
      implementation[rpc] = (
        call: GrpcJs.ServerUnaryCall<Record<string, unknown>, unknown>,
        callback: GrpcJs.sendUnaryData<unknown>,
      ) => {
        const metadata: Record<string, string> = {};
        for (const [key, value] of Object.entries(call.metadata.getMap())) {
          if (typeof value === 'string') metadata[key] = value;
        }
        handler(rpc, () => decodeGrpcRequest(rpc, call.request), metadata, call.getPeer()).then(
          (outcome) => {
            if (outcome.kind === 'ok') callback(null, outcome.message);
            else if (outcome.kind === 'error') {
              const trailers = new grpc.Metadata();
              trailers.set('grpc-status-details-bin', grpcStatusDetails(outcome.error));
              callback(
                Object.assign(new Error(outcome.error.message), {
                  code: outcome.error.code,
                  details: outcome.error.message,
                  metadata: trailers,
                }),
              );
            }
            // 'reset' and 'hang' never answer: the front door destroys the connection, or the client's
            // deadline ends the call.
          },
          (error: unknown) => {
            callback(
              Object.assign(new Error('Internal error encountered.'), {
                code: grpc.status.INTERNAL,
                details: `emulator failure: ${(error as Error).message}`,
              }),
            );
          },
        );
      };
    }
    server.addService(service, implementation);
    const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    return new GcpGrpcTransport(
      (socket) => injector.injectConnection(socket),
      () => {
        injector.destroy();
        server.forceShutdown();
      },
    );
  }

  /** Serves HTTP/2 (gRPC) on an already-decrypted connection. */
  injectConnection(socket: Duplex): void {
    this.#inject(socket);
  }

  stop(): void {
    this.#stop();
  }
}
