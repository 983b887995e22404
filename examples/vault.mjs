// HashiCorp Vault, run against its local emulator (`nebula-credential emulator vault`).
// Run: npm run build && node examples/vault.mjs
// Against the real service, replace `info.config` with your own config (docs/providers/hashicorp-vault.md);
// nothing else changes.
import { randomBytes } from 'node:crypto';
import { openCredentialStore } from 'nebula-credential';
import { startEmulator } from './lib/emulator.mjs';
import { tour } from './lib/tour.mjs';

const { info, stop } = await startEmulator('vault');
console.log(`emulator: ${info.service}, provider "${info.config.provider}"`);
// info.config is a createStorageProvider config like the one in the docs, pointed at the emulator.
const store = await openCredentialStore({ storage: info.config, encryption: { key: randomBytes(32) } });
try {
  await tour(store);
} finally {
  await store.close();
  await stop();
}
