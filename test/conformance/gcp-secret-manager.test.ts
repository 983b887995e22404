import { after, before, describe, it } from 'node:test';
import { GcpSecretManagerProvider } from '../../src/providers/gcp-secret-manager.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';
import { GcpSecretManagerEmulator } from '../../src/testing/emulators/gcp.js';

// One emulator for the suite, serving both transports with one state; each test gets its own prefix.
const emulator = new GcpSecretManagerEmulator();
let run = 0;

before(async () => {
  await emulator.start();
});
after(async () => {
  await emulator.stop();
});

for (const transport of ['grpc', 'rest'] as const) {
  runStorageProviderConformance(
    { describe, it },
    {
      name: `gcp-secret-manager (emulator, ${transport})`,
      createProvider: async ({ logger }) => {
        const provider = new GcpSecretManagerProvider({
          ...emulator.providerOptions(transport),
          prefix: `c${++run}_`,
          logger,
        });
        await provider.connect();
        return provider;
      },
      requestCount: () => emulator.count(),
    },
  );
}
