import { after, describe, it } from 'node:test';
import { AzureKeyVaultProvider } from '../../src/providers/azure-key-vault.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';
import { AzureKeyVaultEmulator } from '../../src/testing/emulators/azure.js';

const emulators: AzureKeyVaultEmulator[] = [];
let current: AzureKeyVaultEmulator | undefined;
after(async () => {
  await Promise.all(emulators.map((e) => e.stop()));
});

runStorageProviderConformance(
  { describe, it },
  {
    name: 'azure-key-vault (emulator, client secret, real SDK)',
    createProvider: async ({ logger }) => {
      // A fresh vault per test: every test starts empty, as the suite requires.
      const emulator = await new AzureKeyVaultEmulator().start();
      emulators.push(emulator);
      current = emulator;
      const provider = new AzureKeyVaultProvider({
        vaultUrl: emulator.vaultUrl,
        credential: {
          type: 'client-secret',
          tenantId: emulator.tenantId,
          clientId: emulator.clientId,
          clientSecret: emulator.clientSecret,
        },
        authorityHost: emulator.authorityHost,
        caCertPath: emulator.caCertPath,
        logger,
      });
      await provider.connect();
      return provider;
    },
    requestCount: () => current?.vault.requests.length ?? 0,
    configSecrets: [],
  },
);
