// The local provider: one encrypted file per credential in a directory only you can read.
// Run: npm run build && node examples/local.mjs
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCredentialStore } from 'nebula-credential';
import { tour } from './lib/tour.mjs';

const scratch = await mkdtemp(join(tmpdir(), 'nebula-example-'));
const store = await openCredentialStore({
  // Your application would use { provider: 'local', directory: '~/.nebula/credentials' } and
  // encryption: { keyFile: `${os.homedir()}/.nebula/key` } (made by `nebula-credential init`).
  storage: { provider: 'local', directory: join(scratch, 'credentials') },
  encryption: { key: randomBytes(32) },
});

try {
  await tour(store);
} finally {
  await store.close();
  await rm(scratch, { recursive: true, force: true });
}
