import { after, before, describe, it } from 'node:test';
import { KubernetesSecretsProvider } from '../../src/providers/kubernetes-secrets.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';
import { KubernetesEmulator } from '../../src/testing/emulators/kubernetes.js';

// One emulator for the file; each provider gets a fresh namespace, service account and kubeconfig, so it
// starts empty and reaches the emulator through the real @kubernetes/client-node over HTTPS.
const emulator = new KubernetesEmulator();
const tokens: string[] = [emulator.adminToken];
let counter = 0;

describe('kubernetes emulator (conformance)', () => {
  before(async () => {
    await emulator.start();
  });
  after(async () => {
    await emulator.stop();
  });

  runStorageProviderConformance(
    { describe, it },
    {
      name: 'kubernetes',
      createProvider: async ({ logger }) => {
        const namespace = `conformance-${++counter}`;
        const token = emulator.createServiceAccount(namespace, 'app');
        tokens.push(token);
        emulator.grant(namespace, 'app');
        const provider = new KubernetesSecretsProvider({
          kubeconfigPath: emulator.writeKubeconfig({ token, namespace }),
          listPageSize: 50,
          logger,
        });
        await provider.connect();
        return provider;
      },
      requestCount: () => emulator.secretRequests(),
      facadeRequests: { putNew: 2, putOverwrite: 2, get: 1 },
      configSecrets: tokens,
    },
  );
});
