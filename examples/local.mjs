// The local provider: one encrypted file per credential in a directory only you can read.
// Run: npm run build && node examples/local.mjs
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStorageError, openCredentialStore } from 'nebula-credential';

const scratch = await mkdtemp(join(tmpdir(), 'nebula-example-'));
const store = await openCredentialStore({
  // Your application would use { provider: 'local', directory: '~/.nebula/credentials' } and
  // encryption: { keyFile: `${os.homedir()}/.nebula/key` } (made by `nebula-credential init`).
  storage: { provider: 'local', directory: join(scratch, 'credentials') },
  encryption: { key: randomBytes(32) },
});

try {
  await store.put('github_token', 'ghp_example_value', {
    tags: { team: 'platform' },
    rotationPolicy: { intervalDays: 90 },
  });
  const { secret, metadata } = await store.get('github_token');
  console.log(`github_token: ${secret.expose()} (created ${metadata.createdAt.toISOString()})`);
  console.log(`printing the secret object shows ${secret}`);
  secret.dispose();

  console.log('team=platform:', await store.list({ tags: { team: 'platform' } }));
  await store.delete('github_token');
  try {
    await store.get('github_token');
  } catch (error) {
    if (!isStorageError(error, 'NotFound')) throw error;
    console.log(`after delete: ${error.code}`);
  }
} finally {
  await store.close();
  await rm(scratch, { recursive: true, force: true });
}
