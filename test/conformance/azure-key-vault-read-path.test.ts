import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { AzureKeyVaultProvider } from '../../src/providers/azure-key-vault.js';
import { AzureKeyVaultEmulator } from '../../src/testing/emulators/azure.js';
import { runReadPathConformance } from '../../src/testing/read-path.js';

const CLIENT_SECRET = `read-path~${randomBytes(18).toString('base64url')}`;
const emulators: AzureKeyVaultEmulator[] = [];
let current: AzureKeyVaultEmulator | undefined;
after(async () => {
  await Promise.all(emulators.map((e) => e.stop()));
});

runReadPathConformance(
  { describe, it },
  {
    name: 'azure-key-vault (real SDK against the emulator)',
    createProvider: async ({ logger }) => {
      // A fresh vault per test: every test starts empty, soft-deleted names included.
      const emulator = await new AzureKeyVaultEmulator().start();
      emulator.directory.clientSecret = CLIENT_SECRET;
      emulators.push(emulator);
      current = emulator;
      const provider = new AzureKeyVaultProvider({
        ...emulator.providerOptions(),
        logger,
        retry: { maxRetries: 0 },
      });
      await provider.connect();
      return provider;
    },
    requestCount: () => current?.vault.requests.length ?? 0,
    injectUnavailable: () => {
      current!.vault.faults.add({
        action: {
          kind: 'status',
          status: 503,
          body: { error: { code: 'ServiceUnavailable', message: 'The service is unavailable.' } },
        },
        times: Number.POSITIVE_INFINITY,
      });
      return () => current!.vault.faults.clear();
    },
    configSecrets: [CLIENT_SECRET],
  },
);
