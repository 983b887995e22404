// The bare-SDK (or bare-HTTP) side of the provider benches, made one way for every bench that compares
// against it, so every "raw" column measures the same client.
import type { Agent } from 'node:http';
import { request } from 'node:http';
import { ClientSecretCredential } from '@azure/identity';
import type * as k8s from '@kubernetes/client-node';
import type { AzureKeyVaultEmulator } from '../src/testing/emulators/azure.js';

/**
 * One Vault HTTP request as a bare `node:http` client sends it (the token header, a JSON body), resolving to
 * the parsed answer (undefined for an empty one).
 */
export function rawVaultClient(
  address: string,
  token: string,
  agent: Agent,
): (method: string, path: string, body?: unknown) => Promise<unknown> {
  const url = new URL(address);
  return (method, path, body) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          hostname: url.hostname,
          port: url.port,
          path: `/v1/${path}`,
          method,
          agent,
          headers: {
            'x-vault-token': token,
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            resolve(text ? JSON.parse(text) : undefined);
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  };
}

/** client-node call options that send every request through `agent` (one keep-alive pool, as the provider). */
export function kubeCallsThrough(agent: Agent): Parameters<k8s.CoreV1Api['readNamespacedSecret']>[1] {
  return {
    middleware: [
      {
        pre: (c: { setAgent(a: Agent): void }) => {
          c.setAgent(agent);
          return { toPromise: () => Promise.resolve(c) };
        },
        post: <R>(c: R) => ({ toPromise: () => Promise.resolve(c) }),
      },
    ],
  } as unknown as Parameters<k8s.CoreV1Api['readNamespacedSecret']>[1];
}

/** The emulator's app registration as a bare `ClientSecretCredential` (SDK retries off). */
export function rawAzureCredential(emulator: AzureKeyVaultEmulator): ClientSecretCredential {
  return new ClientSecretCredential(emulator.tenantId, emulator.clientId, emulator.clientSecret, {
    authorityHost: emulator.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: emulator.ca.caCertPem },
    retryOptions: { maxRetries: 0 },
  });
}
