import { after, before, describe, it } from 'node:test';
import { KubernetesSecretsProvider } from '../../src/providers/kubernetes-secrets.js';
import { KubernetesEmulator } from '../../src/testing/emulators/kubernetes.js';
import { runReadPathConformance } from '../../src/testing/read-path.js';

// One emulator for the file; each provider gets a fresh namespace and service account.
const emulator = new KubernetesEmulator();
const tokens: string[] = [emulator.adminToken];
let counter = 0;

describe('kubernetes emulator (read path)', () => {
  before(async () => {
    await emulator.start();
  });
  after(async () => {
    await emulator.stop();
  });

  runReadPathConformance(
    { describe, it },
    {
      name: 'kubernetes (client-node against the emulator, watch API)',
      createProvider: async ({ logger }) => {
        const namespace = `read-path-${++counter}`;
        const token = emulator.createServiceAccount(namespace, 'app');
        tokens.push(token);
        emulator.grant(namespace, 'app');
        const provider = new KubernetesSecretsProvider({
          kubeconfigPath: emulator.writeKubeconfig({ token, namespace }),
          listPageSize: 50,
          logger,
          retry: { maxRetries: 0 },
        });
        await provider.connect();
        return provider;
      },
      requestCount: () => emulator.secretRequests(),
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
