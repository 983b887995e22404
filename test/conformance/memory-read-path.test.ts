import { describe, it } from 'node:test';
import { MemoryStorageProvider } from '../../src/providers/memory.js';
import { runReadPathConformance } from '../../src/testing/read-path.js';

let provider: MemoryStorageProvider | undefined;

runReadPathConformance(
  { describe, it },
  {
    name: 'memory',
    createProvider: async ({ logger }) => {
      provider = new MemoryStorageProvider({ logger, retry: { maxRetries: 0 } });
      await provider.connect();
      return provider;
    },
    // Every backend call the provider makes, retries included.
    requestCount: () => Object.values(provider?.calls ?? {}).reduce((a, b) => a + b, 0),
    injectUnavailable: () => {
      provider!.failNext({ code: 'Unavailable', times: Number.POSITIVE_INFINITY });
      return () => provider!.clearFaults();
    },
  },
);
