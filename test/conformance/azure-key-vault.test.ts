import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { AzureKeyVaultProvider } from '../../src/providers/azure-key-vault.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';
import { AzureKeyVaultEmulator } from '../../src/testing/emulators/azure.js';

// One client secret for every emulator of this file, so the suite can check it never leaks.
const CLIENT_SECRET = `conformance~${randomBytes(18).toString('base64url')}`;
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
      emulator.directory.clientSecret = CLIENT_SECRET;
      emulators.push(emulator);
      current = emulator;
      const provider = new AzureKeyVaultProvider({
        ...emulator.providerOptions(),
        logger,
      });
      await provider.connect();
      return provider;
    },
    requestCount: () => current?.vault.requests.length ?? 0,
    facadeRequests: { putNew: 2, putOverwrite: 2, get: 1 },
    configSecrets: [CLIENT_SECRET],
  },
);
