import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LocalStorageProvider } from '../../src/providers/local.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';

const root = mkdtempSync(join(tmpdir(), 'nebula-local-conf-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

runStorageProviderConformance(
  { describe, it },
  {
    name: 'local',
    createProvider: async ({ logger }) => {
      // A directory that does not exist yet: connect() creates it (FR-003).
      const provider = new LocalStorageProvider({ logger, directory: join(root, `p${n++}`, 'credentials') });
      await provider.connect();
      return provider;
    },
  },
);
