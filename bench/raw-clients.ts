// The bare-SDK (or bare-HTTP) side of the provider benches, made one way for every bench that compares
// against it, so every "raw" column measures the same client.
import { type Agent, Agent as HttpAgent, request } from 'node:http';
import { Agent as HttpsAgent, type Agent as HttpsAgentType } from 'node:https';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import type * as k8s from '@kubernetes/client-node';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { StorageProvider } from '../src/core/provider.js';
import { AwsSecretsManagerProvider } from '../src/providers/aws-secrets-manager.js';
import { AzureKeyVaultProvider } from '../src/providers/azure-key-vault.js';
import { GcpSecretManagerProvider } from '../src/providers/gcp-secret-manager.js';
import { HashiCorpVaultProvider } from '../src/providers/hashicorp-vault.js';
import { KubernetesSecretsProvider } from '../src/providers/kubernetes-secrets.js';
import { AwsSecretsManagerEmulator } from '../src/testing/emulators/aws.js';
import { AzureKeyVaultEmulator } from '../src/testing/emulators/azure.js';
import { GcpSecretManagerEmulator } from '../src/testing/emulators/gcp.js';
import { KubernetesEmulator } from '../src/testing/emulators/kubernetes.js';
import { VaultEmulator } from '../src/testing/emulators/vault.js';
import { sdkClient, serviceAccountAuth } from '../test/unit/gcp-helpers.js';

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

/**
 * One cloud backend as the cross-provider benches drive it: its emulator (started), one secret written
 * through the raw SDK, the raw client's read and overwrite of that secret, and providers on the same
 * emulator with the same pool size (`maxSockets`), so every "raw" column is the same client everywhere.
 */
export interface RawTarget {
  name: string;
  /** One raw SDK read of the secret. */
  read: () => Promise<unknown>;
  /**
   * One raw SDK overwrite of the secret with the document it was seeded with (the SDK's plain write of a
   * new value), its request body built once, as the provider sends its document's text as encoded.
   */
  write: () => Promise<unknown>;
  /** A new provider on the emulator (nothing remembered, as in a fresh process). */
  makeProvider: () => StorageProvider;
  /** Requests the emulator's secret API has received so far. */
  requests: () => number;
  stop: () => Promise<void>;
}

type RawTargetFactory = (document: string, maxSockets: number) => Promise<RawTarget>;

const awsTarget: RawTargetFactory = async (document, maxSockets) => {
  const emulator = new AwsSecretsManagerEmulator();
  await emulator.start();
  const raw = new SecretsManagerClient({
    region: emulator.region,
    endpoint: emulator.endpoint,
    credentials: emulator.credentials,
    maxAttempts: 1,
    requestHandler: { httpAgent: new HttpAgent({ keepAlive: true, maxSockets }) },
  });
  await raw.send(new CreateSecretCommand({ Name: 'raw/value', SecretString: document }));
  return {
    name: 'aws-secrets-manager (http)',
    read: () => raw.send(new GetSecretValueCommand({ SecretId: 'raw/value' })),
    write: () => raw.send(new PutSecretValueCommand({ SecretId: 'raw/value', SecretString: document })),
    makeProvider: () =>
      new AwsSecretsManagerProvider({
        region: emulator.region,
        endpoint: emulator.endpoint,
        credentials: emulator.credentials,
        maxSockets,
      }),
    requests: () => emulator.count(),
    stop: async () => {
      raw.destroy();
      await emulator.stop();
    },
  };
};

const azureTarget: RawTargetFactory = async (document, maxSockets) => {
  const emulator = await new AzureKeyVaultEmulator().start();
  const raw = new SecretClient(emulator.vaultUrl, rawAzureCredential(emulator), {
    retryOptions: { maxRetries: 0 },
    disableChallengeResourceVerification: true,
    agent: new HttpsAgent({ keepAlive: true, maxSockets, ca: emulator.ca.caCertPem }),
  });
  await raw.setSecret('raw-value', document);
  return {
    name: 'azure-key-vault (https)',
    read: () => raw.getSecret('raw-value'),
    write: () => raw.setSecret('raw-value', document),
    makeProvider: () => new AzureKeyVaultProvider({ ...emulator.providerOptions(), maxSockets }),
    requests: () => emulator.vault.requests.length,
    stop: () => emulator.stop(),
  };
};

const gcpTarget: RawTargetFactory = async (document, maxSockets) => {
  const emulator = new GcpSecretManagerEmulator();
  await emulator.start();
  // gRPC multiplexes every call over one HTTP/2 connection on both sides; maxSockets bounds REST only.
  const raw = sdkClient(emulator, await serviceAccountAuth(emulator, 'token-endpoint'), 'grpc');
  const parent = `projects/${emulator.projectId}`;
  const secret = `${parent}/secrets/raw_value`;
  const noRetry = { retry: { retryCodes: [] } };
  await raw.createSecret(
    { parent, secretId: 'raw_value', secret: { replication: { automatic: {} } } },
    noRetry,
  );
  const payload = { data: Buffer.from(document) };
  await raw.addSecretVersion({ parent: secret, payload }, noRetry);
  return {
    name: 'gcp-secret-manager (grpc)',
    read: () => raw.accessSecretVersion({ name: `${secret}/versions/latest` }, noRetry),
    write: () => raw.addSecretVersion({ parent: secret, payload }, noRetry),
    makeProvider: () =>
      new GcpSecretManagerProvider({ ...emulator.providerOptions('grpc'), prefix: 'p_', maxSockets }),
    requests: () => emulator.count(),
    stop: async () => {
      await raw.close();
      await emulator.stop();
    },
  };
};

const vaultTarget: RawTargetFactory = async (document, maxSockets) => {
  const emulator = new VaultEmulator();
  await emulator.start();
  const agent = new HttpAgent({ keepAlive: true, maxSockets });
  const call = rawVaultClient(emulator.url, emulator.rootToken, agent);
  const body = { data: JSON.parse(document) };
  await call('POST', 'secret/data/raw/value', body);
  return {
    name: 'hashicorp-vault (http)',
    read: () => call('GET', 'secret/data/raw/value'),
    write: () => call('POST', 'secret/data/raw/value', body),
    makeProvider: () =>
      new HashiCorpVaultProvider({ address: emulator.url, auth: { token: emulator.rootToken }, maxSockets }),
    requests: () => emulator.count(),
    stop: async () => {
      agent.destroy();
      await emulator.stop();
    },
  };
};

/**
 * A started Kubernetes emulator with namespace `bench`, a service account allowed in it, and a kubeconfig
 * file for that account (the provider's and client-node's way in).
 */
export async function kubernetesBenchCluster(): Promise<{
  emulator: KubernetesEmulator;
  namespace: string;
  kubeconfigPath: string;
}> {
  const emulator = new KubernetesEmulator();
  await emulator.start();
  const namespace = 'bench';
  const token = emulator.createServiceAccount(namespace, 'bench');
  emulator.grant(namespace, 'bench');
  return { emulator, namespace, kubeconfigPath: emulator.writeKubeconfig({ token, namespace }) };
}

const kubernetesTarget: RawTargetFactory = async (document, maxSockets) => {
  const { emulator, namespace, kubeconfigPath } = await kubernetesBenchCluster();
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const raw = kc.makeApiClient(CoreV1Api);
  const agent: HttpsAgentType = new HttpsAgent({ keepAlive: true, maxSockets, ca: emulator.caCertPem });
  const pooled = kubeCallsThrough(agent);
  const body = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'raw-value' },
    data: { credential: Buffer.from(document).toString('base64') },
  };
  await raw.createNamespacedSecret({ namespace, body }, pooled);
  return {
    name: 'kubernetes-secrets (https)',
    read: () => raw.readNamespacedSecret({ namespace, name: 'raw-value' }, pooled),
    // An update without a resourceVersion: the one-request overwrite client-node offers.
    write: () => raw.replaceNamespacedSecret({ namespace, name: 'raw-value', body }, pooled),
    makeProvider: () => new KubernetesSecretsProvider({ kubeconfigPath, maxSockets }),
    requests: () => emulator.secretRequests(),
    stop: async () => {
      agent.destroy();
      await emulator.stop();
    },
  };
};

/** The cloud backends in bench order, keyed by a short name (what `*_BENCH_ONLY` filters match). */
export const RAW_TARGETS: Readonly<Record<string, RawTargetFactory>> = {
  aws: awsTarget,
  azure: azureTarget,
  gcp: gcpTarget,
  vault: vaultTarget,
  kubernetes: kubernetesTarget,
};
