import { describe, it } from 'node:test';
import { MemoryStorageProvider } from '../../src/providers/memory.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';

let calls: Record<string, number> = {};
runStorageProviderConformance(
  { describe, it },
  {
    name: 'memory',
    createProvider: async ({ logger }) => {
      const provider = new MemoryStorageProvider({ logger, maxCredentialSize: 4096 });
      calls = provider.calls;
      await provider.connect();
      return provider;
    },
    requestCount: () => Object.values(calls).reduce((a, b) => a + b, 0),
    facadeRequests: { putNew: 1, putOverwrite: 1, get: 1 },
  },
);
