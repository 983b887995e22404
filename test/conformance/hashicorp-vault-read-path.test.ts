import { after, before, describe, it } from 'node:test';
import { HashiCorpVaultProvider } from '../../src/providers/hashicorp-vault.js';
import { VaultEmulator } from '../../src/testing/emulators/vault.js';
import { runReadPathConformance } from '../../src/testing/read-path.js';

// One https emulator for the file; each test gets its own empty path prefix.
const vault = new VaultEmulator({ tls: true });
let run = 0;
before(async () => {
  await vault.start();
});
after(async () => {
  await vault.stop();
});

runReadPathConformance(
  { describe, it },
  {
    name: 'hashicorp-vault (KV v2 emulator over https)',
    createProvider: async ({ logger }) => {
      const provider = new HashiCorpVaultProvider({
        address: vault.url,
        auth: { token: vault.rootToken },
        tls: { ca: vault.caCertPem! },
        pathPrefix: `read-path/run-${++run}`,
        logger,
        retry: { maxRetries: 0 },
      });
      await provider.connect();
      return provider;
    },
    requestCount: () => vault.count(),
    injectUnavailable: () => {
      vault.faults.add({
        action: { kind: 'status', status: 503, body: { errors: ['Vault is sealed'] } },
        times: Number.POSITIVE_INFINITY,
      });
      return () => vault.faults.clear();
    },
    configSecrets: [vault.rootToken],
  },
);
