import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { StorageMetrics } from '../../src/core/metrics.js';
import { LocalStorageProvider } from '../../src/providers/local.js';
import { runReadPathConformance } from '../../src/testing/read-path.js';

const root = mkdtempSync(join(tmpdir(), 'nebula-local-read-path-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
// Every call that reaches the file system runs through the operation runner, which records it here.
let backendCalls = 0;

runReadPathConformance(
  { describe, it },
  {
    name: 'local (file-system events and an mtime poll)',
    createProvider: async ({ logger }) => {
      const metrics = new StorageMetrics();
      metrics.subscribe({ operation: () => backendCalls++ });
      const provider = new LocalStorageProvider({
        logger,
        metrics,
        directory: join(root, `p${n++}`),
        retry: { maxRetries: 0 },
      });
      await provider.connect();
      return provider;
    },
    requestCount: () => backendCalls,
  },
);
