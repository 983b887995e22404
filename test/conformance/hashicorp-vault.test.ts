import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../src/core/logger.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import { HashiCorpVaultProvider } from '../../src/providers/hashicorp-vault.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';
import { type BehaviourMatrixReadFault, runBehaviourMatrix } from '../../src/testing/conformance-matrix.js';
import type { FaultAction, RecordedRequest } from '../../src/testing/emulator-kit/server.js';
import { VaultEmulator } from '../../src/testing/emulators/vault.js';
import { runReadPathConformance } from '../../src/testing/read-path.js';

// One https emulator for the whole suite; each test gets its own empty path prefix.
const vault = new VaultEmulator({ tls: true });
let run = 0;

// The behaviour matrix gets its own emulator: its faults and revoked tokens stay away from the suite's.
const matrixVault = new VaultEmulator({ tls: true });
let subjects = 0;

before(async () => {
  await Promise.all([vault.start(), matrixVault.start()]);
});
after(async () => {
  await Promise.all([vault.stop(), matrixVault.stop()]);
});

const createProvider = async ({ logger }: { logger: Logger }, retry?: Partial<RetryPolicy>) => {
  const provider = new HashiCorpVaultProvider({
    address: vault.url,
    auth: { token: vault.rootToken },
    tls: { ca: vault.caCertPem! },
    prefix: `conformance/run-${++run}`,
    logger,
    ...(retry ? { retry } : {}),
  });
  await provider.connect();
  return provider;
};
const requestCount = () => vault.count();

runStorageProviderConformance(
  { describe, it },
  {
    name: 'hashicorp-vault (emulator, https, KV v2)',
    createProvider,
    requestCount,
    facadeRequests: { putNew: 2, putOverwrite: 1, get: 1, putAfterMiss: 2, create: 2 },
    configSecrets: [vault.rootToken],
  },
);

runReadPathConformance(
  { describe, it },
  {
    name: 'hashicorp-vault (KV v2 emulator over https)',
    createProvider: (context) => createProvider(context, { maxRetries: 0 }),
    requestCount,
    injectUnavailable: () => {
      vault.faults.add({ action: vaultFaults.unavailable(0), times: Number.POSITIVE_INFINITY });
      return () => vault.faults.clear();
    },
    configSecrets: [vault.rootToken],
  },
);

const isRead = (r: RecordedRequest) => r.method === 'GET' && r.path.startsWith('/v1/secret/data/');
const vaultFaults: Record<BehaviourMatrixReadFault['kind'], (seconds: number) => FaultAction> = {
  reset: () => ({ kind: 'reset' }),
  hang: () => ({ kind: 'hang' }),
  unavailable: () => ({ kind: 'status', status: 503, body: { errors: ['Vault is sealed'] } }),
  throttled: (seconds) => ({
    kind: 'status',
    status: 429,
    headers: { 'retry-after': String(seconds) },
    body: { errors: ['request path "secret/data/x": rate limit quota exceeded'] },
  }),
};

runBehaviourMatrix(
  { describe, it },
  {
    name: 'hashicorp-vault',
    createSubject(target, common) {
      const policy = `matrix-${++subjects}`;
      const allow = (capabilities: ('create' | 'read' | 'update' | 'delete' | 'list')[]) =>
        matrixVault.writePolicy(policy, [{ path: 'secret/*', capabilities }]);
      allow(['create', 'read', 'update', 'delete', 'list']);
      const token = matrixVault.createToken({ policies: [policy] });
      const provider = new HashiCorpVaultProvider({
        ...common,
        address: target.kind === 'elsewhere' ? target.url : matrixVault.url,
        auth: { token },
        prefix: `matrix/${policy}`,
        ...(target.kind === 'untrusted' ? {} : { tls: { ca: matrixVault.caCertPem! } }),
      });
      return {
        provider,
        rejectCredentials: () => matrixVault.revokeToken(token),
        denyReads: () => allow(['list']),
      };
    },
    injectReadFault: (fault) =>
      matrixVault.faults.add({
        action: vaultFaults[fault.kind](fault.kind === 'throttled' ? fault.retryAfterSeconds : 0),
        times: Number.POSITIVE_INFINITY,
        match: isRead,
      }),
    clearFaults: () => matrixVault.faults.clear(),
    readRequests: () => matrixVault.count(isRead),
    requests: () => matrixVault.count(),
    permissionDetails: { capability: 'read' },
  },
);
