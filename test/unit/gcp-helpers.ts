import type { ServerResponse } from 'node:http';
import { Agent } from 'node:https';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import * as grpc from '@grpc/grpc-js';
import { type AuthClient, GoogleAuth } from 'google-auth-library';
import type { GcpSecretManagerEmulator } from '../../src/testing/emulators/gcp.js';
import { GCP_RPCS } from '../../src/testing/emulators/gcp-iam.js';

// How the real Google clients reach the emulator. Each step here is a trap the provider must handle the
// same way (docs/emulators/gcp.md, "Client options").

export const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

/**
 * How a service-account key authenticates: `self-signed-jwt` is what the SDK does with a key file
 * (google-auth-library signs a JWT with the key and sends it as the bearer token, no token endpoint);
 * `token-endpoint` is the OAuth JWT-bearer grant, which google-auth-library always sends to
 * https://oauth2.googleapis.com/token whatever the key file's `token_uri` says.
 */
export type ServiceAccountMode = 'self-signed-jwt' | 'token-endpoint';

/**
 * Points an auth client's HTTP at the emulator: the emulator's CA for the token endpoint and the REST API,
 * the token request rewritten to the key file's `token_uri`, and HTTP errors of API calls handed to
 * google-gax as responses (so its REST transport decodes Google's error body into a GoogleError instead
 * of surfacing gaxios's "status N" error).
 */
export function routeToEmulator(
  client: AuthClient,
  emulator: GcpSecretManagerEmulator,
  options: { deadlineMs?: number } = {},
): void {
  const agent = new Agent({ ca: emulator.ca.caCertPem, keepAlive: true });
  client.transporter.interceptors.request.add({
    resolved: async (config) => {
      if (String(config.url) === GOOGLE_TOKEN_URL) config.url = new URL(emulator.tokenUri);
      const url = String(config.url);
      if (url.startsWith(emulator.restEndpoint)) {
        config.agent = agent;
        if (url.includes('/v1/')) {
          config.validateStatus = () => true;
          // The REST transport ignores the SDK's `timeout` call option and its promise cannot be
          // cancelled, so a deadline has to reach the HTTP request here.
          if (options.deadlineMs !== undefined) {
            const deadline = AbortSignal.timeout(options.deadlineMs);
            config.signal = config.signal ? AbortSignal.any([config.signal, deadline]) : deadline;
          }
        }
      }
      return config;
    },
  });
}

/** An auth client for a service-account key file, routed to the emulator. */
export async function serviceAccountAuth(
  emulator: GcpSecretManagerEmulator,
  mode: ServiceAccountMode,
  keyFile: string = emulator.credentialsFile,
  options: { deadlineMs?: number } = {},
): Promise<AuthClient> {
  const auth = new GoogleAuth({ keyFile, scopes: [CLOUD_PLATFORM] });
  if (mode === 'self-signed-jwt') {
    // What the SDK sets on its own GoogleAuth; with an authClient of our own we set it ourselves.
    auth.useJWTAccessWithScope = true;
    auth.defaultServicePath = 'secretmanager.googleapis.com';
  }
  const client = await auth.getClient();
  // google-auth-library 11 (under @google-cloud/secret-manager 7) fills an unset flag from the SDK's
  // GoogleAuth, which turns self-signed JWTs on: the token-endpoint grant has to say false itself.
  if (mode === 'token-endpoint' && 'useJWTAccessWithScope' in client) client.useJWTAccessWithScope = false;
  routeToEmulator(client, emulator, options);
  return client;
}

/**
 * Call credentials from a google-auth-library client. grpc-js's own `createFromGoogleCredential` reads the
 * headers with Object.keys, which finds nothing in the `Headers` object google-auth-library 10 returns: the
 * call goes out without Authorization. So the headers are copied here, as google-gax does internally.
 */
export function callCredentials(client: AuthClient): grpc.CallCredentials {
  return grpc.credentials.createFromMetadataGenerator((params, callback) => {
    client.getRequestHeaders(params.service_url).then(
      (headers) => {
        const metadata = new grpc.Metadata();
        headers.forEach((value, key) => {
          metadata.add(key, value);
        });
        callback(null, metadata);
      },
      (error: Error) => callback(error),
    );
  });
}

/**
 * SDK retries off. The SDK's config retries AccessSecretVersion on RESOURCE_EXHAUSTED and UNAVAILABLE
 * (2 s, doubling, for up to 10 minutes); an override only applies to the methods it lists, each naming a
 * retry-code set of the override.
 */
export const NO_RETRIES = {
  interfaces: {
    'google.cloud.secretmanager.v1.SecretManagerService': {
      retry_codes: { none: [] },
      retry_params: {},
      methods: Object.fromEntries(GCP_RPCS.map((rpc) => [rpc, { retry_codes_name: 'none' }])),
    },
  },
};

/**
 * The SDK over gRPC to the emulator. `sslCreds` replaces the SDK's channel credentials entirely (it then adds
 * no call credentials of its own), so it must carry both the CA and the caller's tokens. The name override
 * makes the TLS server name `localhost` (a certificate name) instead of an IP, which Node deprecates.
 */
export function grpcClient(
  emulator: GcpSecretManagerEmulator,
  auth: AuthClient,
  calls: grpc.CallCredentials = callCredentials(auth),
): SecretManagerServiceClient {
  return new SecretManagerServiceClient({
    apiEndpoint: '127.0.0.1',
    port: emulator.port,
    authClient: auth,
    sslCreds: grpc.credentials.combineChannelCredentials(
      grpc.credentials.createSsl(Buffer.from(emulator.ca.caCertPem)),
      calls,
    ),
    'grpc.ssl_target_name_override': 'localhost',
    clientConfig: NO_RETRIES,
  });
}

/** The SDK over its REST transport (`fallback: true`) to the emulator, on the same port. */
export function restClient(emulator: GcpSecretManagerEmulator, auth: AuthClient): SecretManagerServiceClient {
  return new SecretManagerServiceClient({
    fallback: true,
    apiEndpoint: '127.0.0.1',
    port: emulator.port,
    authClient: auth,
    clientConfig: NO_RETRIES,
  });
}

/** The SDK on either transport. */
export function sdkClient(
  emulator: GcpSecretManagerEmulator,
  auth: AuthClient,
  transport: 'grpc' | 'rest',
): SecretManagerServiceClient {
  return transport === 'grpc' ? grpcClient(emulator, auth) : restClient(emulator, auth);
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected the call to fail');
}

/** An STS token exchange answer (RFC 8693) carrying an emulator access token of its service account. */
export function stsTokenAnswer(emulator: GcpSecretManagerEmulator): string {
  const { accessToken } = emulator.auth.issueAccessToken(emulator.serviceAccount.email);
  return JSON.stringify({
    access_token: accessToken,
    issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    token_type: 'Bearer',
    expires_in: 3600,
  });
}

/**
 * Starts a token answer that never ends in JSON (`{"access_token":"x",` then spaces, `totalBytes` in all unless
 * the client drops the connection first); `sent` hears every chunk written, so a test can tell how much the
 * client read before it cut.
 */
export function sendEndlessTokenAnswer(
  res: ServerResponse,
  totalBytes: number,
  sent: (bytes: number) => void,
): void {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let written = 0;
  res.write('{"access_token":"x",');
  const pump = () => {
    while (written < totalBytes && !res.destroyed) {
      written += chunk.length;
      sent(chunk.length);
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}
