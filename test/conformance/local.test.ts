import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Logger } from '../../src/core/logger.js';
import { StorageMetrics } from '../../src/core/metrics.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import { LocalStorageProvider } from '../../src/providers/local.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';
import { runReadPathConformance } from '../../src/testing/read-path.js';

const root = mkdtempSync(join(tmpdir(), 'nebula-local-conf-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
// Every call that reaches the file system goes through the operation runner, which records it here.
let backendCalls = 0;

const createProvider = async ({ logger }: { logger: Logger }, retry?: Partial<RetryPolicy>) => {
  const metrics = new StorageMetrics();
  metrics.subscribe({ operation: () => backendCalls++ });
  // A directory that does not exist yet: connect() creates it (FR-003).
  const provider = new LocalStorageProvider({
    logger,
    metrics,
    directory: join(root, `p${n++}`, 'credentials'),
    ...(retry ? { retry } : {}),
  });
  await provider.connect();
  return provider;
};
const requestCount = () => backendCalls;

runStorageProviderConformance(
  { describe, it },
  {
    name: 'local',
    createProvider,
    requestCount,
    facadeRequests: { putNew: 1, putOverwrite: 1, get: 1, putAfterMiss: 1, create: 1 },
  },
);

// No fault injection on a local disk: the stale-if-error, breaker and backoff cases run on the others.
runReadPathConformance(
  { describe, it },
  {
    name: 'local (file-system events and an mtime poll)',
    createProvider: (context) => createProvider(context, { maxRetries: 0 }),
    requestCount,
  },
);
