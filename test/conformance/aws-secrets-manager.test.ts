import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { AwsSecretsManagerProvider } from '../../src/providers/aws-secrets-manager.js';
import { runStorageProviderConformance } from '../../src/testing/conformance.js';
import { AwsSecretsManagerEmulator } from '../../src/testing/emulators/aws.js';

// Each test gets its own emulator (an empty store); https with a generated CA, so certificate validation
// and the caCertPath option are exercised by the whole suite.
const emulators: AwsSecretsManagerEmulator[] = [];
const accessKey = {
  accessKeyId: 'AKIANEBULACONFORMANCE',
  secretAccessKey: randomBytes(30).toString('base64'),
};
let current: AwsSecretsManagerEmulator | undefined;

after(async () => {
  await Promise.all(emulators.map((e) => e.stop()));
});

runStorageProviderConformance(
  { describe, it },
  {
    name: 'aws-secrets-manager (real SDK over https against the emulator)',
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
        caCertPath: emulator.caCertPath,
        defaultTags: { managedBy: 'nebula-credential' },
      });
      await provider.connect();
      return provider;
    },
    requestCount: () => current?.count() ?? 0,
    facadeRequests: { putNew: 2, putOverwrite: 2, get: 1 },
    configSecrets: [accessKey.secretAccessKey],
  },
);
