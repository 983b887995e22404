import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../src/core/logger.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import { GcpSecretManagerProvider } from '../../src/providers/gcp-secret-manager.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';
import { type BehaviourMatrixReadFault, runBehaviourMatrix } from '../../src/testing/conformance-matrix.js';
import { type GcpRecordedRequest, GcpSecretManagerEmulator } from '../../src/testing/emulators/gcp.js';
import { GcpError } from '../../src/testing/emulators/gcp-status.js';
import { runReadPathConformance } from '../../src/testing/read-path.js';

// One emulator for the suite, serving both transports with one state; each test gets its own prefix.
const emulator = new GcpSecretManagerEmulator();
let run = 0;

// The behaviour matrix gets its own emulator: its faults and revoked grants stay away from the suite's.
const matrixEmulator = new GcpSecretManagerEmulator();
let subjects = 0;

before(async () => {
  await Promise.all([emulator.start(), matrixEmulator.start()]);
});
after(async () => {
  await Promise.all([emulator.stop(), matrixEmulator.stop()]);
});

const createProvider =
  (transport: 'grpc' | 'rest', retry?: Partial<RetryPolicy>) =>
  async ({ logger }: { logger: Logger }) => {
    const provider = new GcpSecretManagerProvider({
      ...emulator.providerOptions(transport),
      prefix: `c${++run}_`,
      logger,
      ...(retry ? { retry } : {}),
    });
    await provider.connect();
    return provider;
  };

for (const transport of ['grpc', 'rest'] as const) {
  runStorageProviderConformance(
    { describe, it },
    {
      name: `gcp-secret-manager (emulator, ${transport})`,
      createProvider: createProvider(transport),
      requestCount: () => emulator.count(),
      facadeRequests: { putNew: 3, putOverwrite: 1, get: 1, putAfterMiss: 2, create: 2 },
    },
  );
  runReadPathConformance(
    { describe, it },
    {
      name: `gcp-secret-manager (emulator, ${transport})`,
      createProvider: createProvider(transport, { maxRetries: 0 }),
      requestCount: () => emulator.count(),
      injectUnavailable: () => {
        emulator.fail('unavailable', { transport, times: Number.POSITIVE_INFINITY });
        return () => emulator.faults.clear();
      },
    },
  );
}

for (const transport of ['grpc', 'rest'] as const) {
  const isRead = (r: { rpc: string; transport: string }) =>
    r.rpc === 'AccessSecretVersion' && r.transport === transport;
  const readFaults: Record<BehaviourMatrixReadFault['kind'], (fault: BehaviourMatrixReadFault) => void> = {
    reset: () => matrixEmulator.fail('reset', { rpc: 'AccessSecretVersion', transport, times: Infinity }),
    hang: () => matrixEmulator.fail('hang', { rpc: 'AccessSecretVersion', transport, times: Infinity }),
    unavailable: () =>
      matrixEmulator.fail('unavailable', { rpc: 'AccessSecretVersion', transport, times: Infinity }),
    throttled: (fault) =>
      matrixEmulator.throttle(Infinity, {
        rpc: 'AccessSecretVersion',
        transport,
        retryAfterSeconds: fault.kind === 'throttled' ? fault.retryAfterSeconds : 1,
      }),
  };
  runBehaviourMatrix(
    { describe, it },
    {
      name: 'gcp-secret-manager',
      createSubject(target, common) {
        const account = matrixEmulator.addServiceAccount(`matrix-${transport}-${++subjects}`);
        const options = matrixEmulator.providerOptions(transport);
        const provider = new GcpSecretManagerProvider({
          ...options,
          ...common,
          credentialsFile: account.keyFile,
          prefix: `m${subjects}_`,
          ...(target.kind === 'elsewhere' ? { apiEndpoint: target.url } : {}),
          ...(target.kind === 'untrusted' ? { tls: {} } : {}),
        });
        return {
          provider,
          // What the service answers a revoked or expired token with, on every later call.
          rejectCredentials: () =>
            matrixEmulator.faults.add({
              action: {
                kind: 'status',
                status: 401,
                body: new GcpError('UNAUTHENTICATED', 'Request had invalid authentication credentials.'),
              },
              times: Number.POSITIVE_INFINITY,
              match: (r) => (r as GcpRecordedRequest).transport === transport,
            }),
          denyReads: () => matrixEmulator.iam.revoke(account.email, 'roles/secretmanager.admin'),
        };
      },
      injectReadFault: (fault) => readFaults[fault.kind](fault),
      clearFaults: () => matrixEmulator.faults.clear(),
      readRequests: () => matrixEmulator.requests.filter(isRead).length,
      requests: () => matrixEmulator.count(),
      permissionDetails: { permission: 'secretmanager.versions.access' },
    },
  );
}
