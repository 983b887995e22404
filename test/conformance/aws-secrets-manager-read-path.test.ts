import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { AwsSecretsManagerProvider } from '../../src/providers/aws-secrets-manager.js';
import { AwsSecretsManagerEmulator } from '../../src/testing/emulators/aws.js';
import { runReadPathConformance } from '../../src/testing/read-path.js';

// A fresh emulator per test (an empty account), over https with its own CA like the conformance wiring.
const accessKey = {
  accessKeyId: 'AKIANEBULAREADPATH01',
  secretAccessKey: randomBytes(30).toString('base64'),
};
const emulators: AwsSecretsManagerEmulator[] = [];
let current: AwsSecretsManagerEmulator | undefined;
after(async () => {
  await Promise.all(emulators.map((e) => e.stop()));
});

runReadPathConformance(
  { describe, it },
  {
    name: 'aws-secrets-manager (real SDK against the emulator)',
    createProvider: async ({ logger }) => {
      const emulator = new AwsSecretsManagerEmulator({ tls: true, accessKeys: [accessKey] });
      await emulator.start();
      emulators.push(emulator);
      current = emulator;
      const provider = new AwsSecretsManagerProvider({
        logger,
        region: emulator.region,
        endpoint: emulator.endpoint,
        credentials: emulator.credentials,
        tls: { caFile: emulator.caCertPath! },
        retry: { maxRetries: 0 },
      });
      await provider.connect();
      return provider;
    },
    requestCount: () => current?.count() ?? 0,
    // BatchGetSecretValue carries 20 secrets per call.
    bulkRequests: (n) => Math.ceil(n / 20),
    injectUnavailable: () => {
      current!.faults.add({
        action: {
          kind: 'status',
          status: 503,
          body: { __type: 'ServiceUnavailable', message: 'Service is unavailable. Try again later.' },
        },
        times: Number.POSITIVE_INFINITY,
      });
      return () => current!.faults.clear();
    },
    configSecrets: [accessKey.secretAccessKey],
  },
);
