import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../src/core/logger.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import { AzureKeyVaultProvider } from '../../src/providers/azure-key-vault.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';
import { type BehaviourMatrixReadFault, runBehaviourMatrix } from '../../src/testing/conformance-matrix.js';
import type { FaultAction, RecordedRequest } from '../../src/testing/emulator-kit/server.js';
import { AzureKeyVaultEmulator } from '../../src/testing/emulators/azure.js';
import { runReadPathConformance } from '../../src/testing/read-path.js';

// One client secret for every emulator of this file, so the suite can check it never leaks.
const CLIENT_SECRET = `conformance~${randomBytes(18).toString('base64url')}`;
const emulators: AzureKeyVaultEmulator[] = [];
let current: AzureKeyVaultEmulator | undefined;
// The behaviour matrix shares one vault; what a row changes (roles, faults) is undone after it.
const matrixAzure = new AzureKeyVaultEmulator();

before(async () => {
  await matrixAzure.start();
});
after(async () => {
  await Promise.all([...emulators, matrixAzure].map((e) => e.stop()));
});

const createProvider = async ({ logger }: { logger: Logger }, retry?: Partial<RetryPolicy>) => {
  // A fresh vault per test: every test starts empty (soft-deleted names included), as the suites require.
  const emulator = await new AzureKeyVaultEmulator().start();
  emulator.directory.clientSecret = CLIENT_SECRET;
  emulators.push(emulator);
  current = emulator;
  const provider = new AzureKeyVaultProvider({
    ...emulator.providerOptions(),
    logger,
    ...(retry ? { retry } : {}),
  });
  await provider.connect();
  return provider;
};
const requestCount = () => current?.vault.requests.length ?? 0;

runStorageProviderConformance(
  { describe, it },
  {
    name: 'azure-key-vault (emulator, client secret, real SDK)',
    createProvider,
    requestCount,
    facadeRequests: { putNew: 2, putOverwrite: 1, get: 1, putAfterMiss: 1, create: 2 },
    configSecrets: [CLIENT_SECRET],
  },
);

runReadPathConformance(
  { describe, it },
  {
    name: 'azure-key-vault (real SDK against the emulator)',
    createProvider: (context) => createProvider(context, { maxRetries: 0 }),
    requestCount,
    injectUnavailable: () => {
      current!.vault.faults.add({
        action: azureFaults.unavailable(0),
        times: Number.POSITIVE_INFINITY,
      });
      return () => current!.vault.faults.clear();
    },
    configSecrets: [CLIENT_SECRET],
  },
);

const isRead = (r: RecordedRequest) => r.method === 'GET' && /^\/secrets\/[^/]+\/?$/.test(r.path);
const keyVaultError = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  ({ kind: 'status', status, headers, body: { error: { code, message } } }) satisfies FaultAction;
const azureFaults: Record<BehaviourMatrixReadFault['kind'], (seconds: number) => FaultAction> = {
  reset: () => ({ kind: 'reset' }),
  hang: () => ({ kind: 'hang' }),
  unavailable: () => keyVaultError(503, 'ServiceUnavailable', 'The service is temporarily unavailable.'),
  throttled: (seconds) =>
    keyVaultError(429, 'Throttled', 'Request was not processed because too many requests were received.', {
      'retry-after': String(seconds),
    }),
};

runBehaviourMatrix(
  { describe, it },
  {
    name: 'azure-key-vault',
    createSubject(target, common) {
      const provider = new AzureKeyVaultProvider({
        ...matrixAzure.providerOptions(),
        ...common,
        ...(target.kind === 'elsewhere' ? { vaultUrl: target.url } : {}),
        ...(target.kind === 'untrusted' ? { tls: undefined } : {}),
      });
      return {
        provider,
        // A revoked token: the vault answers every read with its 401 challenge.
        rejectCredentials: () =>
          matrixAzure.vault.faults.add({
            action: keyVaultError(401, 'Unauthorized', 'AKV10032: Invalid issuer or signature.', {
              'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${matrixAzure.tenantId}", resource="https://vault.azure.net"`,
            }),
            times: Number.POSITIVE_INFINITY,
            match: isRead,
          }),
        denyReads: () => matrixAzure.setRoles(matrixAzure.clientId, ['Key Vault Reader']),
        dispose: () => matrixAzure.setRoles(matrixAzure.clientId, ['Key Vault Secrets Officer']),
      };
    },
    injectReadFault: (fault) =>
      matrixAzure.vault.faults.add({
        action: azureFaults[fault.kind](fault.kind === 'throttled' ? fault.retryAfterSeconds : 0),
        times: Number.POSITIVE_INFINITY,
        match: isRead,
      }),
    clearFaults: () => matrixAzure.vault.faults.clear(),
    readRequests: () => matrixAzure.vaultRequests(isRead).length,
    requests: () => matrixAzure.vault.requests.length,
    permissionDetails: {
      requiredRole: 'Key Vault Secrets User',
      action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action',
    },
  },
);
