import { after, before, describe, it } from 'node:test';
import { HashiCorpVaultProvider } from '../../src/providers/hashicorp-vault.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';
import { VaultEmulator } from '../../src/testing/emulators/vault.js';

// One https emulator for the whole suite; each test gets its own empty path prefix.
const vault = new VaultEmulator({ tls: true });
let run = 0;

before(async () => {
  await vault.start();
});
after(async () => {
  await vault.stop();
});

runStorageProviderConformance(
  { describe, it },
  {
    name: 'hashicorp-vault (emulator, https, KV v2)',
    createProvider: async ({ logger }) => {
      const provider = new HashiCorpVaultProvider({
        address: vault.url,
        auth: { token: vault.rootToken },
        tls: { caCert: vault.caCertPem! },
        pathPrefix: `conformance/run-${++run}`,
        logger,
      });
      await provider.connect();
      return provider;
    },
    requestCount: () => vault.count(),
    facadeRequests: { putNew: 2, putOverwrite: 1, get: 1 },
    configSecrets: [vault.rootToken],
  },
);
