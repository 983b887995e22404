import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { StorageMetrics } from '../../src/core/metrics.js';
import { LocalStorageProvider } from '../../src/providers/local.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';

const root = mkdtempSync(join(tmpdir(), 'nebula-local-conf-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
// Every call that reaches the file system goes through the operation runner, which records it here.
let backendCalls = 0;

runStorageProviderConformance(
  { describe, it },
  {
    name: 'local',
    createProvider: async ({ logger }) => {
      const metrics = new StorageMetrics();
      metrics.subscribe({ operation: () => backendCalls++ });
      // A directory that does not exist yet: connect() creates it (FR-003).
      const provider = new LocalStorageProvider({
        logger,
        metrics,
        directory: join(root, `p${n++}`, 'credentials'),
      });
      await provider.connect();
      return provider;
    },
    requestCount: () => backendCalls,
    facadeRequests: { putNew: 1, putOverwrite: 1, get: 1 },
  },
);
