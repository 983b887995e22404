import assert from 'node:assert/strict';
import { SecretsManagerClient, type SecretsManagerServiceException } from '@aws-sdk/client-secrets-manager';
import { AwsSecretsManagerEmulator } from '../../src/testing/emulators/aws.js';

/** Runs `fn` with a started emulator and a real SDK client (no SDK retries) pointed at it; stops both after. */
export async function withEmulator(
  fn: (emulator: AwsSecretsManagerEmulator, client: SecretsManagerClient) => Promise<void>,
  options: ConstructorParameters<typeof AwsSecretsManagerEmulator>[0] = {},
): Promise<void> {
  const emulator = new AwsSecretsManagerEmulator(options);
  await emulator.start();
  const client = new SecretsManagerClient({
    region: emulator.region,
    endpoint: emulator.endpoint,
    credentials: emulator.credentials,
    maxAttempts: 1,
  });
  try {
    await fn(emulator, client);
  } finally {
    client.destroy();
    await emulator.stop();
  }
}

/** The SDK error `promise` rejects with (fails the test when it resolves). */
export async function awsError(promise: Promise<unknown>): Promise<SecretsManagerServiceException> {
  try {
    await promise;
  } catch (error) {
    return error as SecretsManagerServiceException;
  }
  assert.fail('expected an AWS error');
}
