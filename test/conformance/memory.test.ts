import { describe, it } from 'node:test';
import type { Logger } from '../../src/core/logger.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';
import { runReadPathConformance } from '../../src/testing/read-path.js';

let current: MemoryStorageProvider | undefined;
const createProvider = async ({ logger }: { logger: Logger }, retry?: Partial<RetryPolicy>) => {
  current = new MemoryStorageProvider({ logger, maxCredentialSize: 4096, ...(retry ? { retry } : {}) });
  await current.connect();
  return current;
};
// Every backend call the provider makes, retries included.
const requestCount = () => Object.values(current?.calls ?? {}).reduce((a, b) => a + b, 0);

runStorageProviderConformance(
  { describe, it },
  {
    name: 'memory',
    createProvider,
    requestCount,
    facadeRequests: { putNew: 1, putOverwrite: 1, get: 1, putAfterMiss: 1, create: 1 },
  },
);

runReadPathConformance(
  { describe, it },
  {
    name: 'memory',
    createProvider: (context) => createProvider(context, { maxRetries: 0 }),
    requestCount,
    injectUnavailable: () => {
      current!.failNext({ code: 'Unavailable', times: Number.POSITIVE_INFINITY });
      return () => current!.clearFaults();
    },
  },
);
