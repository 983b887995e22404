// Google Cloud Secret Manager, run against its local emulator (`nebula-credential emulator gcp`).
// Run: npm run build && node examples/gcp.mjs
// Against the real service, replace `info.config` with your own config (docs/providers/gcp-secret-manager.md);
// nothing else changes.
import { randomBytes } from 'node:crypto';
import { openCredentialStore } from 'nebula-credential';
import { startEmulator } from './lib/emulator.mjs';
import { tour } from './lib/tour.mjs';

const { info, stop } = await startEmulator('gcp');
console.log(`emulator: ${info.service}, provider "${info.config.provider}"`);
// info.config is a createStorageProvider config like the one in the docs, pointed at the emulator.
const store = await openCredentialStore({ storage: info.config, encryption: { key: randomBytes(32) } });
try {
  await tour(store);
} finally {
  await store.close();
  await stop();
}
