import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../src/core/logger.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import { KubernetesSecretsProvider } from '../../src/providers/kubernetes-secrets.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';
import { runBehaviourMatrix } from '../../src/testing/conformance-matrix.js';
import type { RecordedRequest } from '../../src/testing/emulator-kit/server.js';
import { KubernetesEmulator } from '../../src/testing/emulators/kubernetes.js';
import { runReadPathConformance } from '../../src/testing/read-path.js';

// One emulator for the file; each provider gets a fresh namespace, service account and kubeconfig, so it
// starts empty and reaches the emulator through the real @kubernetes/client-node over HTTPS.
const emulator = new KubernetesEmulator();
const tokens: string[] = [emulator.adminToken];
let counter = 0;
// The behaviour matrix gets its own API server; each of its providers has its own namespace and token.
const matrixKube = new KubernetesEmulator();
const isRead = (r: RecordedRequest) =>
  r.method === 'GET' && /^\/api\/v1\/namespaces\/[^/]+\/secrets\/[^/]+$/.test(r.path);

describe('kubernetes emulator (conformance)', () => {
  before(async () => {
    await emulator.start();
  });
  after(async () => {
    await emulator.stop();
  });

  const createProvider = async ({ logger }: { logger: Logger }, retry?: Partial<RetryPolicy>) => {
    const namespace = `conformance-${++counter}`;
    const token = emulator.createServiceAccount(namespace, 'app');
    tokens.push(token);
    emulator.grant(namespace, 'app');
    const provider = new KubernetesSecretsProvider({
      kubeconfigPath: emulator.writeKubeconfig({ token, namespace }),
      listPageSize: 50,
      logger,
      ...(retry ? { retry } : {}),
    });
    await provider.connect();
    return provider;
  };
  const requestCount = () => emulator.secretRequests();

  runStorageProviderConformance(
    { describe, it },
    {
      name: 'kubernetes',
      createProvider,
      requestCount,
      facadeRequests: { putNew: 2, putOverwrite: 1, get: 1, create: 1 },
      configSecrets: tokens,
    },
  );

  runReadPathConformance(
    { describe, it },
    {
      name: 'kubernetes (client-node against the emulator, watch API)',
      createProvider: (context) => createProvider(context, { maxRetries: 0 }),
      requestCount,
      // One labelled list call (a page holds 50) for a batch, one GET for a single id.
      bulkRequests: () => 1,
      nativeFeed: true,
      injectUnavailable: () => {
        emulator.failWith(503, Number.POSITIVE_INFINITY);
        return () => emulator.faults.clear();
      },
      configSecrets: tokens,
    },
  );
});

describe('kubernetes emulator (behaviour matrix)', () => {
  before(async () => {
    await matrixKube.start();
  });
  after(async () => {
    await matrixKube.stop();
  });

  runBehaviourMatrix(
    { describe, it },
    {
      name: 'kubernetes',
      createSubject(target, common) {
        const namespace = `matrix-${++counter}`;
        const token = matrixKube.createServiceAccount(namespace, 'app');
        matrixKube.grant(namespace, 'app');
        const kubeconfigPath = matrixKube.writeKubeconfig({
          token,
          namespace,
          ...(target.kind === 'elsewhere' ? { server: target.url } : {}),
          ...(target.kind === 'untrusted' ? { certificateAuthority: false } : {}),
        });
        return {
          provider: new KubernetesSecretsProvider({ ...common, kubeconfigPath }),
          rejectCredentials: () => matrixKube.revokeToken(token),
          denyReads: () => matrixKube.grant(namespace, 'app', ['list', 'create', 'update', 'delete']),
        };
      },
      injectReadFault(fault) {
        if (fault.kind === 'unavailable')
          matrixKube.failWith(503, Number.POSITIVE_INFINITY, { match: isRead });
        else if (fault.kind === 'throttled') {
          matrixKube.failWith(429, Number.POSITIVE_INFINITY, {
            retryAfterSeconds: fault.retryAfterSeconds,
            match: isRead,
          });
        } else
          matrixKube.faults.add({
            action: { kind: fault.kind },
            times: Number.POSITIVE_INFINITY,
            match: isRead,
          });
      },
      clearFaults: () => matrixKube.faults.clear(),
      readRequests: () => matrixKube.server.count(isRead),
      requests: () => matrixKube.requests.length,
      permissionDetails: { verb: 'get' },
    },
  );
});
