// Kubernetes Secrets, run against its local emulator (`nebula-credential emulator kubernetes`).
// Run: npm run build && node examples/kubernetes.mjs
// Against the real service, replace `info.config` with your own config (docs/providers/kubernetes-secrets.md);
// nothing else changes.
import { randomBytes } from 'node:crypto';
import { isStorageError, openCredentialStore } from 'nebula-credential';
import { startEmulator } from './lib/emulator.mjs';

const { info, stop } = await startEmulator('kubernetes');
console.log(`emulator: ${info.service}, provider "${info.config.provider}"`);
const store = await openCredentialStore({ storage: info.config, encryption: { key: randomBytes(32) } });

try {
  await store.put('github_token', 'ghp_example_value', { tags: { team: 'platform' } });
  const { secret, metadata, version } = await store.get('github_token');
  console.log(
    `github_token: ${secret.expose()} (created ${metadata.createdAt.toISOString()}, version ${version ?? '-'})`,
  );
  secret.dispose();

  console.log('team=platform:', await store.list({ tags: { team: 'platform' } }));
  console.log('capabilities:', store.provider.capabilities);
  await store.delete('github_token');
  try {
    await store.get('github_token');
  } catch (error) {
    if (!isStorageError(error, 'NotFound')) throw error;
    console.log(`after delete: ${error.code}`);
  }
} finally {
  await store.close();
  await stop();
}
