// Store and retrieve through the provider beside the same calls made with the bare SDK client, against the
// loopback emulator in the same run, so the difference is the provider's own overhead (validation, document
// encoding, the operation runner). Also reports how many TCP connections the requests needed.
import { randomBytes } from 'node:crypto';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { EncryptedData } from '../src/core/crypto.js';
import { encodeCredentialDocument } from '../src/core/document.js';
import { createMetadata } from '../src/core/metadata.js';
import { AwsSecretsManagerProvider } from '../src/providers/aws-secrets-manager.js';
import { AwsSecretsManagerEmulator } from '../src/testing/emulators/aws.js';
import { type LatencySummary, measureInterleaved, printTable, ratio, summarize } from './util.js';

const ITERATIONS = 1000;
const WARMUP = 50;

async function runFor(tls: boolean): Promise<void> {
  const emulator = new AwsSecretsManagerEmulator({ tls });
  await emulator.start();
  const provider = new AwsSecretsManagerProvider({
    region: emulator.region,
    endpoint: emulator.endpoint,
    credentials: emulator.credentials,
    ...(emulator.caCertPath ? { tls: { caFile: emulator.caCertPath } } : {}),
  });
  await provider.connect();
  const { default: https } = await import('node:https');
  const { readFileSync } = await import('node:fs');
  const raw = new SecretsManagerClient({
    region: emulator.region,
    endpoint: emulator.endpoint,
    credentials: emulator.credentials,
    maxAttempts: 1,
    ...(emulator.caCertPath
      ? {
          requestHandler: {
            httpsAgent: new https.Agent({ keepAlive: true, ca: readFileSync(emulator.caCertPath) }),
          },
        }
      : {}),
  });
  const data: EncryptedData = {
    version: 1,
    keyId: 'bench0000000000',
    nonce: randomBytes(12),
    ciphertext: randomBytes(1024),
    tag: randomBytes(16),
  };
  const metadata = createMetadata({ tags: { env: 'bench', team: 'platform' } });
  const document = encodeCredentialDocument(data, metadata);
  await provider.store('bench_value', data, metadata);
  await raw.send(new CreateSecretCommand({ Name: 'raw/bench_value', SecretString: document }));

  const connectionsBefore = emulator.connections;
  const requestsBefore = emulator.count();
  // Provider and raw calls alternate, so drift (GC, JIT, the emulator's own work) hits every side alike.
  const interleave = async (...fns: ((i: number) => Promise<unknown>)[]) =>
    (await measureInterleaved(ITERATIONS, fns, WARMUP)).map(summarize);
  const pair = async (a: (i: number) => Promise<unknown>, b: (i: number) => Promise<unknown>) => {
    const [left, right] = await interleave(a, b);
    return [left!, right!] as const;
  };
  const [storeProvider, storeRaw] = await pair(
    () => provider.store('bench_value', data, metadata),
    () => raw.send(new PutSecretValueCommand({ SecretId: 'raw/bench_value', SecretString: document })),
  );
  // The third column passes a deadline signal, as the provider must (the SDK's abort handling has a cost).
  const [getProvider, getRaw, getRawSignal] = (await interleave(
    () => provider.retrieve('bench_value'),
    () => raw.send(new GetSecretValueCommand({ SecretId: 'raw/bench_value' })),
    () =>
      raw.send(new GetSecretValueCommand({ SecretId: 'raw/bench_value' }), {
        abortSignal: AbortSignal.timeout(5000),
      }),
  )) as [LatencySummary, LatencySummary, LatencySummary];
  // Names from counters: the warm-up reuses indices, and every call here must be a create.
  const seq = { store: 0, createOnly: 0 };
  const [createProvider, createRaw, createOnlyProvider] = (await interleave(
    () => provider.store(`new_${tls ? 's' : 'p'}_${seq.store++}`, data, metadata),
    (i) =>
      raw.send(
        new CreateSecretCommand({
          Name: `raw/new_${i}`,
          SecretString: document,
          Tags: [
            { Key: 'env', Value: 'bench' },
            { Key: 'team', Value: 'platform' },
          ],
        }),
      ),
    () =>
      provider.store(`only_${tls ? 's' : 'p'}_${seq.createOnly++}`, data, metadata, undefined, {
        createOnly: true,
      }),
  )) as [LatencySummary, LatencySummary, LatencySummary];
  const rows = [
    {
      label: 'store (overwrite) provider',
      summary: storeProvider,
      note: `${ratio(storeProvider.p50, storeRaw.p50)} of raw at p50`,
    },
    { label: 'store (overwrite) raw SDK', summary: storeRaw, note: 'PutSecretValue' },
    {
      label: 'store (new) provider',
      summary: createProvider,
      note: `${ratio(createProvider.p50, createRaw.p50)} of raw at p50`,
    },
    {
      label: 'store createOnly provider',
      summary: createOnlyProvider,
      note: `${ratio(createOnlyProvider.p50, createRaw.p50)} of raw at p50 (CreateSecret alone, as create sends)`,
    },
    { label: 'store (new) raw SDK', summary: createRaw, note: 'CreateSecret' },
    {
      label: 'retrieve provider',
      summary: getProvider,
      note: `${ratio(getProvider.p50, getRaw.p50)} of raw at p50`,
    },
    { label: 'retrieve raw SDK', summary: getRaw, note: 'GetSecretValue' },
    {
      label: 'retrieve raw SDK + signal',
      summary: getRawSignal,
      note: `GetSecretValue with abortSignal; provider is ${ratio(getProvider.p50, getRawSignal.p50)} of it`,
    },
  ];
  printTable(
    `AWS Secrets Manager emulator over ${tls ? 'https' : 'http'} (1 KiB ciphertext, ${ITERATIONS} iterations; target: provider <= 1.10x raw at p50)`,
    rows,
  );
  const requests = emulator.count() - requestsBefore;
  console.log(
    `connection reuse: ${requests} measured requests opened ${emulator.connections - connectionsBefore} new TCP${tls ? '/TLS' : ''} connections; ${emulator.connections} connections in the whole run for ${emulator.count()} requests (two clients, keep-alive)`,
  );
  await provider.close();
  raw.destroy();
  await emulator.stop();
}

await runFor(false);
await runFor(true);
