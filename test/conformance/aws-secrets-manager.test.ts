import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../src/core/logger.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import { AwsSecretsManagerProvider } from '../../src/providers/aws-secrets-manager.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';
import { runBehaviourMatrix } from '../../src/testing/conformance-matrix.js';
import { AwsSecretsManagerEmulator } from '../../src/testing/emulators/aws.js';
import { runReadPathConformance } from '../../src/testing/read-path.js';

// Each test gets its own emulator (an empty store); https with a generated CA, so certificate validation
// and the tls.caFile option are exercised by the whole suite.
const emulators: AwsSecretsManagerEmulator[] = [];
const accessKey = {
  accessKeyId: 'AKIANEBULACONFORMANCE',
  secretAccessKey: randomBytes(30).toString('base64'),
};
let current: AwsSecretsManagerEmulator | undefined;

// The behaviour matrix shares one https emulator; each of its providers signs with its own access key.
const matrixAws = new AwsSecretsManagerEmulator({ tls: true });
let matrixKeys = 0;

before(async () => {
  await matrixAws.start();
});
after(async () => {
  await Promise.all([...emulators, matrixAws].map((e) => e.stop()));
});

const createProvider = async ({ logger }: { logger: Logger }, retry?: Partial<RetryPolicy>) => {
  const emulator = new AwsSecretsManagerEmulator({ tls: true, accessKeys: [accessKey] });
  await emulator.start();
  emulators.push(emulator);
  current = emulator;
  const provider = new AwsSecretsManagerProvider({
    logger,
    region: emulator.region,
    endpoint: emulator.endpoint,
    credentials: emulator.credentials,
    tls: { caFile: emulator.caCertPath },
    defaultTags: { managedBy: 'nebula-credential' },
    ...(retry ? { retry } : {}),
  });
  await provider.connect();
  return provider;
};
const requestCount = () => current?.count() ?? 0;

runStorageProviderConformance(
  { describe, it },
  {
    name: 'aws-secrets-manager (real SDK over https against the emulator)',
    createProvider,
    requestCount,
    facadeRequests: { putNew: 2, putOverwrite: 1, get: 1, putAfterMiss: 1, create: 1 },
    configSecrets: [accessKey.secretAccessKey],
  },
);

runReadPathConformance(
  { describe, it },
  {
    name: 'aws-secrets-manager (real SDK against the emulator)',
    createProvider: (context) => createProvider(context, { maxRetries: 0 }),
    requestCount,
    // BatchGetSecretValue carries 20 secrets per call.
    bulkRequests: (n) => Math.ceil(n / 20),
    injectUnavailable: () => {
      current!.fail('unavailable', Number.POSITIVE_INFINITY);
      return () => current!.faults.clear();
    },
    configSecrets: [accessKey.secretAccessKey],
  },
);

runBehaviourMatrix(
  { describe, it },
  {
    name: 'aws-secrets-manager',
    createSubject(target, common) {
      const key = {
        accessKeyId: `AKIAMATRIX${String(++matrixKeys).padStart(10, '0')}`,
        secretAccessKey: randomBytes(30).toString('base64'),
      };
      matrixAws.addAccessKey(key);
      const provider = new AwsSecretsManagerProvider({
        ...common,
        region: matrixAws.region,
        endpoint: target.kind === 'elsewhere' ? target.url : matrixAws.endpoint,
        credentials: key,
        ...(target.kind === 'untrusted' ? {} : { tls: { caFile: matrixAws.caCertPath } }),
      });
      return {
        provider,
        rejectCredentials: () => matrixAws.removeAccessKey(key.accessKeyId),
        denyReads: () => matrixAws.setAllowedActions(key.accessKeyId, ['secretsmanager:ListSecrets']),
        dispose: () => matrixAws.removeAccessKey(key.accessKeyId),
      };
    },
    injectReadFault(fault) {
      if (fault.kind === 'throttled') {
        matrixAws.throttle(Number.POSITIVE_INFINITY, 'GetSecretValue', {
          retryAfterSeconds: fault.retryAfterSeconds,
        });
      } else matrixAws.fail(fault.kind, Number.POSITIVE_INFINITY, 'GetSecretValue');
    },
    clearFaults: () => matrixAws.faults.clear(),
    readRequests: () => matrixAws.count('GetSecretValue'),
    requests: () => matrixAws.count(),
    permissionDetails: { action: 'secretsmanager:GetSecretValue' },
  },
);
