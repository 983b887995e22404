import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { ManualClock } from '../../src/core/clock.js';
import type { EncryptedData } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import { createMetadata } from '../../src/core/metadata.js';
import {
  AWS_MAX_CREDENTIAL_SIZE,
  AwsSecretNames,
  type AwsSecretsManagerOptions,
  AwsSecretsManagerProvider,
} from '../../src/providers/aws-secrets-manager.js';
import { AwsSecretsManagerEmulator } from '../../src/testing/emulators/aws.js';

const KEY = {
  accessKeyId: 'AKIANEBULAUNITTEST01',
  secretAccessKey: 'unit-test-secret-access-key-0123456789',
};

function encrypted(bytes: Uint8Array): EncryptedData {
  return { version: 1, keyId: 'unit0000', nonce: randomBytes(12), ciphertext: bytes, tag: randomBytes(16) };
}

async function setup(
  options: Partial<AwsSecretsManagerOptions> = {},
  emulatorOptions: ConstructorParameters<typeof AwsSecretsManagerEmulator>[0] = {},
) {
  const emulator = new AwsSecretsManagerEmulator({ accessKeys: [KEY], ...emulatorOptions });
  await emulator.start();
  const provider = new AwsSecretsManagerProvider({
    region: emulator.region,
    endpoint: emulator.endpoint,
    credentials: KEY,
    ...options,
  });
  return {
    emulator,
    provider,
    async [Symbol.asyncDispose]() {
      await provider.close();
      await emulator.stop();
    },
  };
}

async function rejection(promise: Promise<unknown>, code: string): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof StorageError, inspect(error));
    assert.equal(error.code, code, `${error.code}: ${error.message}`);
    return error;
  }
  assert.fail(`expected ${code}`);
}

function bodyOf(emulator: AwsSecretsManagerEmulator, operation: string): Record<string, unknown>[] {
  return emulator.requests
    .filter((r) => r.headers['x-amz-target'] === `secretsmanager.${operation}`)
    .map((r) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>);
}

/** Runs `fn` with environment variables set (undefined removes), restoring them afterwards. */
async function withEnv(vars: Record<string, string | undefined>, fn: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const NO_AMBIENT_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_DEFAULT_PROFILE: undefined,
  AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
  AWS_ROLE_ARN: undefined,
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
  AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
  AWS_EC2_METADATA_DISABLED: 'true',
};

describe('AwsSecretsManagerProvider: retries, deadlines and errors', () => {
  it('backs off 100, 200, 400, 800, 1600 ms (±20% jitter) on 503s, one request per attempt', async () => {
    const clock = new ManualClock(Date.now(), { autoAdvance: true });
    await using ctx = await setup({ clock });
    await ctx.provider.store('backoff', encrypted(Buffer.from('v')), createMetadata());
    ctx.emulator.fail('unavailable', 5, 'GetSecretValue');
    const back = await ctx.provider.retrieve('backoff');
    assert.equal(Buffer.from(back.data.ciphertext).toString(), 'v');
    assert.equal(
      ctx.emulator.count('GetSecretValue'),
      7,
      'SDK retries must be off: 6 attempts, 6 requests (+1 by the store)',
    );
    assert.equal(clock.sleeps.length, 5);
    [100, 200, 400, 800, 1600].forEach((nominal, i) => {
      const slept = clock.sleeps[i]!;
      assert.ok(slept >= nominal * 0.8 && slept <= nominal * 1.2, `retry ${i + 1} slept ${slept} ms`);
    });
  });

  it('gives up after 5 retries with Unavailable (retryable), having sent exactly 6 requests', async () => {
    const clock = new ManualClock(Date.now(), { autoAdvance: true });
    await using ctx = await setup({ clock });
    await ctx.provider.connect();
    ctx.emulator.fail('unavailable', 10, 'GetSecretValue');
    const error = await rejection(ctx.provider.retrieve('gone'), 'Unavailable');
    assert.equal(error.retryable, true);
    assert.equal(error.details.status, 503);
    assert.equal(error.details.attempts, 6);
    assert.equal(ctx.emulator.count('GetSecretValue'), 6);
  });

  it('retries connection resets', async () => {
    const clock = new ManualClock(Date.now(), { autoAdvance: true });
    await using ctx = await setup({ clock });
    await ctx.provider.store('reset_me', encrypted(Buffer.from('v')), createMetadata());
    ctx.emulator.fail('reset', 2, 'GetSecretValue');
    await ctx.provider.retrieve('reset_me');
    assert.equal(ctx.emulator.count('GetSecretValue'), 4, '3 attempts, +1 by the store');
  });

  it('maps ThrottlingException to RateLimited, retries it, and reports it when it persists', async () => {
    const clock = new ManualClock(Date.now(), { autoAdvance: true });
    await using ctx = await setup({ clock });
    await ctx.provider.store('throttled', encrypted(Buffer.from('v')), createMetadata());
    ctx.emulator.throttle(2, 'GetSecretValue');
    await ctx.provider.retrieve('throttled');
    assert.equal(ctx.emulator.count('GetSecretValue'), 4, '3 attempts, +1 by the store');
    ctx.emulator.throttle(100, 'DescribeSecret');
    const error = await rejection(ctx.provider.exists('throttled'), 'RateLimited');
    assert.equal(error.retryable, true);
    assert.equal(error.details.backendCode, 'ThrottlingException');
    assert.equal(ctx.emulator.count('DescribeSecret'), 6);
  });

  it('turns a hung request into Timeout with the duration and operation, and aborts the request', async () => {
    // One socket: the next call can only go out if the hung request was destroyed, not left to the pool.
    await using ctx = await setup({ timeouts: { readMs: 300 }, maxSockets: 1 });
    await ctx.provider.connect();
    await ctx.provider.store('slow', encrypted(Buffer.from('v')), createMetadata());
    ctx.emulator.fail('hang', 1, 'GetSecretValue');
    const connections = ctx.emulator.connections;
    const reads = ctx.emulator.count('GetSecretValue');
    const error = await rejection(ctx.provider.retrieve('slow'), 'Timeout');
    assert.equal(error.operation, 'retrieve');
    assert.equal(error.details.durationMs, 300);
    assert.equal(error.credentialId, 'slow');
    assert.equal(ctx.emulator.count('GetSecretValue'), reads + 1);
    const { data } = await ctx.provider.retrieve('slow');
    assert.ok(data.ciphertext.length > 0);
    assert.equal(ctx.emulator.connections, connections + 1, 'a new connection replaces the aborted one');
  });

  it('maps AccessDeniedException to PermissionDenied naming the action and resource, without retrying', async () => {
    await using ctx = await setup();
    await ctx.provider.store('guarded', encrypted(Buffer.from('v')), createMetadata());
    ctx.emulator.setAllowedActions(KEY.accessKeyId, [
      'secretsmanager:ListSecrets',
      'secretsmanager:Describe*',
    ]);
    const error = await rejection(ctx.provider.retrieve('guarded'), 'PermissionDenied');
    assert.equal(error.details.action, 'secretsmanager:GetSecretValue');
    assert.match(
      String(error.details.resource),
      /^arn:aws:secretsmanager:us-east-1:123456789012:secret:nebula\/credentials\/guarded-\w{6}$/,
    );
    assert.equal(error.details.backendCode, 'AccessDeniedException');
    assert.equal(error.retryable, false);
    assert.equal(ctx.emulator.count('GetSecretValue'), 2, 'one attempt, +1 by the store');
    assert.match(error.message, /secretsmanager:GetSecretValue/);
    const write = await rejection(
      ctx.provider.store('new_one', encrypted(Buffer.from('v')), createMetadata()),
      'PermissionDenied',
    );
    assert.equal(write.details.action, 'secretsmanager:CreateSecret');
    assert.equal(await ctx.provider.exists('guarded'), true, 'DescribeSecret is allowed');
  });

  it('treats a denied ListSecrets at connect as valid credentials', async () => {
    await using ctx = await setup();
    ctx.emulator.setAllowedActions(KEY.accessKeyId, ['secretsmanager:GetSecretValue']);
    await ctx.provider.connect();
  });

  it('rejects a wrong secret key at connect with AuthenticationFailed (InvalidSignatureException), once', async () => {
    await using ctx = await setup({
      credentials: { accessKeyId: KEY.accessKeyId, secretAccessKey: 'wrong-secret' },
    });
    const error = await rejection(ctx.provider.connect(), 'AuthenticationFailed');
    assert.equal(error.details.backendCode, 'InvalidSignatureException');
    assert.equal(error.operation, 'connect');
    assert.equal(ctx.emulator.count(), 1, 'authentication failures are not retried');
    assert.ok(!error.message.includes('wrong-secret'));
  });

  it('rejects an unknown access key with AuthenticationFailed (UnrecognizedClientException)', async () => {
    await using ctx = await setup({
      credentials: { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'x' },
    });
    const error = await rejection(ctx.provider.connect(), 'AuthenticationFailed');
    assert.equal(error.details.backendCode, 'UnrecognizedClientException');
  });

  it('fails connect with AuthenticationFailed when the default chain finds no credentials, sending nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nebula-aws-'));
    await withEnv(
      {
        ...NO_AMBIENT_CREDENTIALS,
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'missing-credentials'),
        AWS_CONFIG_FILE: join(dir, 'missing-config'),
      },
      async () => {
        await using ctx = await setup({ credentials: undefined });
        const error = await rejection(ctx.provider.connect(), 'AuthenticationFailed');
        assert.match(error.message, /AWS_ACCESS_KEY_ID/);
        assert.equal(ctx.emulator.count(), 0);
      },
    );
  });
  it('waits at least what Retry-After asks before retrying a throttled call', async () => {
    const clock = new ManualClock(Date.now(), { autoAdvance: true });
    await using ctx = await setup({ clock });
    await ctx.provider.store('patient', encrypted(Buffer.from('v')), createMetadata());
    ctx.emulator.faults.add({
      action: {
        kind: 'status',
        status: 400,
        body: { __type: 'ThrottlingException', message: 'Rate exceeded' },
        headers: { 'retry-after': '2' },
      },
      match: (r) => r.headers['x-amz-target'] === 'secretsmanager.GetSecretValue',
    });
    await ctx.provider.retrieve('patient');
    assert.ok(clock.sleeps[0]! >= 2000, `slept ${clock.sleeps[0]} ms`);
  });

  it('fails connect within the deadline with AuthenticationFailed when instance metadata hangs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nebula-aws-'));
    const imds = new AwsSecretsManagerEmulator();
    await imds.start();
    imds.fail('hang', 10);
    try {
      await withEnv(
        {
          ...NO_AMBIENT_CREDENTIALS,
          AWS_EC2_METADATA_DISABLED: undefined,
          AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint,
          AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
          AWS_CONFIG_FILE: join(dir, 'none-config'),
        },
        async () => {
          await using ctx = await setup({ credentials: undefined, timeouts: { connectMs: 800 } });
          const error = await rejection(ctx.provider.connect(), 'AuthenticationFailed');
          assert.equal(error.operation, 'connect');
          assert.ok(imds.count() >= 1, 'the instance metadata service was asked');
          assert.equal(ctx.emulator.count(), 0);
        },
      );
    } finally {
      await imds.stop();
    }
  });
});

describe('AwsSecretsManagerProvider: credentials from the default chain', () => {
  it('uses AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nebula-aws-'));
    await withEnv(
      {
        ...NO_AMBIENT_CREDENTIALS,
        AWS_ACCESS_KEY_ID: KEY.accessKeyId,
        AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
        AWS_CONFIG_FILE: join(dir, 'none-config'),
      },
      async () => {
        await using ctx = await setup({ credentials: undefined });
        await ctx.provider.store('from_env', encrypted(Buffer.from('v')), createMetadata());
        assert.equal(await ctx.provider.exists('from_env'), true);
        assert.ok(
          ctx.emulator.requests.every((r) =>
            String(r.headers.authorization).includes(`Credential=${KEY.accessKeyId}/`),
          ),
        );
      },
    );
  });

  it('uses a profile of the shared credentials file (AWS_PROFILE, and the profile option)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nebula-aws-'));
    const credentialsFile = join(dir, 'credentials');
    const configFile = join(dir, 'config');
    writeFileSync(
      credentialsFile,
      `[default]\naws_access_key_id = AKIAWRONGDEFAULT0000\naws_secret_access_key = wrong\n\n[nebula]\naws_access_key_id = ${KEY.accessKeyId}\naws_secret_access_key = ${KEY.secretAccessKey}\n`,
      { mode: 0o600 },
    );
    writeFileSync(configFile, '[profile nebula]\nregion = us-east-1\n', { mode: 0o600 });
    const files = { AWS_SHARED_CREDENTIALS_FILE: credentialsFile, AWS_CONFIG_FILE: configFile };
    await withEnv({ ...NO_AMBIENT_CREDENTIALS, ...files, AWS_PROFILE: 'nebula' }, async () => {
      await using ctx = await setup({ credentials: undefined, region: undefined });
      await ctx.provider.store('from_profile', encrypted(Buffer.from('v')), createMetadata());
      assert.equal(await ctx.provider.exists('from_profile'), true);
    });
    await withEnv({ ...NO_AMBIENT_CREDENTIALS, ...files }, async () => {
      await using ctx = await setup({ credentials: undefined, profile: 'nebula' });
      await ctx.provider.connect();
      await using wrong = await setup({ credentials: undefined });
      const error = await rejection(wrong.provider.connect(), 'AuthenticationFailed');
      assert.equal(
        error.details.backendCode,
        'UnrecognizedClientException',
        'the [default] profile was used',
      );
    });
  });
});

describe('AwsSecretsManagerProvider: store semantics', () => {
  it('creates with KMS key, tags, description and an idempotency token; overwrites with PutSecretValue', async () => {
    await using ctx = await setup({ kmsKeyId: 'alias/nebula', defaultTags: { app: 'billing' } });
    await ctx.provider.store(
      'api_key',
      encrypted(Buffer.from('one')),
      createMetadata({ tags: { env: 'prod' } }),
    );
    const [create] = bodyOf(ctx.emulator, 'CreateSecret');
    assert.equal(create!['Name'], 'nebula/credentials/api_key');
    assert.equal(create!['KmsKeyId'], 'alias/nebula');
    assert.match(String(create!['ClientRequestToken']), /^[0-9a-f-]{36}$/);
    assert.deepEqual(create!['Tags'], [
      { Key: 'app', Value: 'billing' },
      { Key: 'env', Value: 'prod' },
    ]);
    const metadata = createMetadata({ tags: { env: 'prod' } });
    metadata.createdAt = new Date(Date.parse(String(create!['Description']).split('=')[1]!));
    await ctx.provider.store('api_key', encrypted(Buffer.from('two')), metadata);
    assert.equal(
      bodyOf(ctx.emulator, 'PutSecretValue').length,
      1,
      'same createdAt: PutSecretValue, no UpdateSecret',
    );
    assert.equal(ctx.emulator.count('UpdateSecret'), 0);
    const back = await ctx.provider.retrieve('api_key');
    assert.equal(Buffer.from(back.data.ciphertext).toString(), 'two');
    assert.ok(back.version);
  });

  it('reuses the ClientRequestToken on retry, so a write whose response was lost is not applied twice', async () => {
    const clock = new ManualClock(Date.now(), { autoAdvance: true });
    await using ctx = await setup({ clock });
    const name = ctx.provider.secretName('lost');
    ctx.emulator.loseResponse(1, 'CreateSecret');
    await ctx.provider.store('lost', encrypted(Buffer.from('one')), createMetadata());
    // The retry's read finds the secret the lost attempt created, and writes the same value with the same token.
    assert.equal(ctx.emulator.count('CreateSecret') + ctx.emulator.count('PutSecretValue'), 2);
    assert.equal(ctx.emulator.versionCount(name), 1);
    const tokens = [...bodyOf(ctx.emulator, 'CreateSecret'), ...bodyOf(ctx.emulator, 'PutSecretValue')].map(
      (b) => b['ClientRequestToken'],
    );
    assert.equal(tokens[0], tokens[1]);
    const metadata = createMetadata();
    await ctx.provider.store('lost', encrypted(Buffer.from('two')), metadata);
    const versionsBefore = ctx.emulator.versionCount(name)!;
    ctx.emulator.loseResponse(1, 'PutSecretValue');
    await ctx.provider.store('lost', encrypted(Buffer.from('three')), metadata);
    assert.equal(ctx.emulator.versionCount(name), versionsBefore + 1);
    assert.equal(Buffer.from((await ctx.provider.retrieve('lost')).data.ciphertext).toString(), 'three');
  });

  it('keeps AWS tags in sync on update, including tag-only changes (TagResource and UntagResource)', async () => {
    await using ctx = await setup({ defaultTags: { app: 'billing' } });
    const data = encrypted(Buffer.from('same'));
    const name = ctx.provider.secretName('tagged');
    const m1 = createMetadata({ tags: { env: 'prod', team: 'a' } });
    await ctx.provider.store('tagged', data, m1);
    assert.deepEqual(ctx.emulator.tagsOf(name), { app: 'billing', env: 'prod', team: 'a' });
    const m2 = { ...m1, tags: { env: 'staging', owner: 'zoë' } };
    await ctx.provider.store('tagged', data, m2);
    assert.deepEqual(ctx.emulator.tagsOf(name), { app: 'billing', env: 'staging', owner: 'zoë' });
    assert.deepEqual(bodyOf(ctx.emulator, 'TagResource').at(-1)!['Tags'], [
      { Key: 'env', Value: 'staging' },
      { Key: 'owner', Value: 'zoë' },
    ]);
    assert.deepEqual(bodyOf(ctx.emulator, 'UntagResource').at(-1)!['TagKeys'], ['team']);
    // Unchanged tags: no tagging calls.
    const tagCalls = ctx.emulator.count('TagResource') + ctx.emulator.count('UntagResource');
    await ctx.provider.store('tagged', data, m2);
    assert.equal(ctx.emulator.count('TagResource') + ctx.emulator.count('UntagResource'), tagCalls);
    // A fresh provider (nothing known) reads the current tags with DescribeSecret before syncing.
    const fresh = new AwsSecretsManagerProvider({
      region: ctx.emulator.region,
      endpoint: ctx.emulator.endpoint,
      credentials: KEY,
    });
    try {
      await fresh.store('tagged', data, { ...m2, tags: { env: 'dev' } });
    } finally {
      await fresh.close();
    }
    assert.deepEqual(ctx.emulator.tagsOf(name), { env: 'dev' });
    assert.deepEqual((await ctx.provider.retrieve('tagged')).metadata.tags, { env: 'dev' });
  });

  it('refuses a name scheduled for deletion with Conflict and guidance, and restores it when configured', async () => {
    const clock = new ManualClock(Date.now());
    await using ctx = await setup({ recoveryWindowInDays: 7 }, { clock });
    await ctx.provider.store('rotated', encrypted(Buffer.from('old')), createMetadata());
    await ctx.provider.delete('rotated');
    assert.equal(bodyOf(ctx.emulator, 'DeleteSecret')[0]!['RecoveryWindowInDays'], 7);
    assert.equal(await ctx.provider.exists('rotated'), false);
    const missing = await rejection(ctx.provider.retrieve('rotated'), 'NotFound');
    assert.equal(missing.details['scheduledForDeletion'], true);
    await ctx.provider.delete('rotated'); // already scheduled: still success
    const conflict = await rejection(
      ctx.provider.store('rotated', encrypted(Buffer.from('new')), createMetadata()),
      'Conflict',
    );
    assert.equal(conflict.details['scheduledForDeletion'], true);
    assert.match(conflict.message, /restore-secret --secret-id nebula\/credentials\/rotated/);
    assert.match(conflict.message, /restoreOnStore/);
    const restoring = new AwsSecretsManagerProvider({
      region: ctx.emulator.region,
      endpoint: ctx.emulator.endpoint,
      credentials: KEY,
      restoreOnStore: true,
    });
    try {
      await restoring.store('rotated', encrypted(Buffer.from('new')), createMetadata());
      assert.equal(Buffer.from((await restoring.retrieve('rotated')).data.ciphertext).toString(), 'new');
      assert.equal(ctx.emulator.count('RestoreSecret'), 1);
    } finally {
      await restoring.close();
    }
    // After the recovery window the name is free again.
    await ctx.provider.delete('rotated');
    await clock.advance(8 * 86_400_000);
    assert.deepEqual(ctx.emulator.secretNames(), []);
    await ctx.provider.store('rotated', encrypted(Buffer.from('fresh')), createMetadata());
  });

  it('deletes without recovery when forceDelete is set', async () => {
    await using ctx = await setup({ forceDelete: true });
    await ctx.provider.store('burn', encrypted(Buffer.from('x')), createMetadata());
    await ctx.provider.delete('burn');
    assert.equal(bodyOf(ctx.emulator, 'DeleteSecret')[0]!['ForceDeleteWithoutRecovery'], true);
    assert.deepEqual(ctx.emulator.secretNames(), []);
    await ctx.provider.store('burn', encrypted(Buffer.from('y')), createMetadata());
  });

  it('checks AWS tag limits and the 64 KB SecretString limit before any request', async () => {
    await using ctx = await setup();
    await ctx.provider.connect();
    const before = ctx.emulator.count();
    const data = encrypted(Buffer.from('v'));
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    const tooMany = await rejection(
      ctx.provider.store('t', data, createMetadata({ tags: many })),
      'InvalidMetadata',
    );
    assert.equal(tooMany.details.limit, 50);
    await rejection(
      ctx.provider.store('t', data, createMetadata({ tags: { 'aws:x': 'v' } })),
      'InvalidMetadata',
    );
    await rejection(
      ctx.provider.store('t', data, createMetadata({ tags: { ['k'.repeat(129)]: 'v' } })),
      'InvalidMetadata',
    );
    await rejection(
      ctx.provider.store('t', data, createMetadata({ tags: { k: 'v'.repeat(257) } })),
      'InvalidMetadata',
    );
    await rejection(
      ctx.provider.store('t', data, createMetadata({ tags: { 'a#b': 'v' } })),
      'InvalidMetadata',
    );
    // At the size limit with large metadata, the encoded document passes 64 KB: refused before sending.
    const big = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [`key_${i}_${'k'.repeat(100)}`, 'v'.repeat(200)]),
    );
    const over = await rejection(
      ctx.provider.store('t', encrypted(randomBytes(AWS_MAX_CREDENTIAL_SIZE)), createMetadata({ tags: big })),
      'SizeLimitExceeded',
    );
    assert.equal(over.details.limit, 65_536);
    assert.equal(ctx.emulator.count(), before);
    // Ordinary metadata (ten tags) fits beside a ciphertext of the full size.
    const ordinary = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [`tag${i}`, `value-${i}-${'x'.repeat(40)}`]),
    );
    const full = encrypted(randomBytes(AWS_MAX_CREDENTIAL_SIZE));
    await ctx.provider.store(
      'full',
      full,
      createMetadata({ tags: ordinary, rotationPolicy: { intervalDays: 90 } }),
    );
    assert.ok(
      Buffer.from((await ctx.provider.retrieve('full')).data.ciphertext).equals(Buffer.from(full.ciphertext)),
    );
  });

  it('lists with server-side name-prefix and tag filters and follows NextToken', async () => {
    await using ctx = await setup();
    await Promise.all(
      Array.from({ length: 130 }, (_, i) =>
        ctx.provider.store(
          `many_${i}`,
          encrypted(Buffer.from('v')),
          createMetadata({ tags: { group: i % 2 ? 'odd' : 'even' } }),
        ),
      ),
    );
    const before = ctx.emulator.count('ListSecrets');
    const all = await ctx.provider.list();
    assert.equal(all.length, 130);
    assert.equal(ctx.emulator.count('ListSecrets') - before, 2, '100 per page');
    const odd = await ctx.provider.list({ tags: { group: 'odd' } });
    assert.equal(odd.length, 65);
    const last = bodyOf(ctx.emulator, 'ListSecrets').at(-1)!;
    assert.deepEqual(last['Filters'], [
      { Key: 'name', Values: ['nebula/credentials/'] },
      { Key: 'tag-key', Values: ['group'] },
      { Key: 'tag-value', Values: ['odd'] },
    ]);
  });

  it('reuses connections (keep-alive)', async () => {
    await using ctx = await setup();
    for (let i = 0; i < 20; i++) {
      await ctx.provider.store(`reuse_${i}`, encrypted(Buffer.from('v')), createMetadata());
      await ctx.provider.retrieve(`reuse_${i}`);
    }
    assert.ok(
      ctx.emulator.connections <= 2,
      `opened ${ctx.emulator.connections} connections for 41 requests`,
    );
  });
});

describe('AwsSecretsManagerProvider: names and options', () => {
  it('maps ids to readable, reversible AWS names', () => {
    const names = new AwsSecretNames('nebula/credentials/');
    const cases: [string, string][] = [
      ['github_token', 'nebula/credentials/github_token'],
      ['Token', 'nebula/credentials/@token'],
      ['é', 'nebula/credentials/@1e9@'],
      ['db-abcdef', 'nebula/credentials/db-abcdef@2'],
      ['a-b-c-d-e-f-g', 'nebula/credentials/a-b-c-d-e-f-g'],
      ['x-1-3456', 'nebula/credentials/x-1-3456@2@2'],
      ['é2', 'nebula/credentials/@1e9@2'],
    ];
    for (const [id, name] of cases) {
      assert.equal(names.encode(id), name);
      assert.ok(/^[A-Za-z0-9/_+=.@-]+$/.test(name));
      assert.ok(!/-.{6}$/.test(name), `${name} ends like an ARN suffix`);
      assert.equal(names.decode(name)?.value, id);
    }
    for (const foreign of [
      'other/x',
      'nebula/credentials/UPPER',
      'nebula/credentials/a.b',
      'nebula/credentials/db-abcdef',
    ]) {
      assert.equal(names.decode(foreign), undefined, foreign);
    }
  });

  it('refuses ids whose name exceeds 512 characters with InvalidId naming the limit', async () => {
    await using ctx = await setup();
    const error = await rejection(ctx.provider.exists('É'.repeat(120)), 'InvalidId');
    assert.equal(error.details.limit, 512);
    assert.match(error.message, /512/);
    assert.equal(ctx.emulator.count(), 0);
  });

  it('reports every invalid option at once, and keeps the secret key out of inspection', () => {
    assert.throws(
      () =>
        new AwsSecretsManagerProvider({
          region: 'Mars',
          endpoint: 'http://secretsmanager.example.com',
          prefix: 'bad prefix!',
          recoveryWindowInDays: 3,
          defaultTags: { 'aws:owner': 'x' },
          credentials: { accessKeyId: 'AKIAEXAMPLE000000000', secretAccessKey: '' },
          regoin: 'x',
        } as AwsSecretsManagerOptions),
      (error: unknown) => {
        assert.ok(error instanceof StorageError && error.code === 'InvalidConfig');
        const paths = (error.details.issues ?? []).map((i) => i.path).sort();
        assert.deepEqual(paths, [
          'credentials.secretAccessKey',
          'defaultTags',
          'endpoint',
          'prefix',
          'recoveryWindowInDays',
          'region',
          'regoin',
        ]);
        return true;
      },
    );
    const provider = new AwsSecretsManagerProvider({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIAEXAMPLE000000000', secretAccessKey: 'very-secret-value' },
    });
    assert.ok(!inspect(provider, { depth: 8 }).includes('very-secret-value'));
    assert.ok(!JSON.stringify(provider).includes('very-secret-value'));
  });

  it('applies the https-only rule to the endpoint option and to the SDK endpoint variables', async () => {
    const construct = (options: Partial<AwsSecretsManagerOptions>) =>
      new AwsSecretsManagerProvider({ region: 'eu-west-1', credentials: KEY, ...options });
    assert.throws(
      () => construct({ endpoint: 'http://10.20.30.40:4566' }),
      (e: unknown) =>
        e instanceof StorageError &&
        e.code === 'InvalidConfig' &&
        /endpoint: uses plain http/.test(e.message),
    );
    await construct({ endpoint: 'http://10.20.30.40:4566', dangerouslyAllowInsecureHttp: true }).close();
    for (const variable of ['AWS_ENDPOINT_URL_SECRETS_MANAGER', 'AWS_ENDPOINT_URL']) {
      await withEnv(
        {
          AWS_ENDPOINT_URL_SECRETS_MANAGER: undefined,
          AWS_ENDPOINT_URL: undefined,
          [variable]: 'http://10.20.30.40:4566',
        },
        async () => {
          await using ctx = await setup({ endpoint: undefined });
          const error = await rejection(ctx.provider.connect(), 'InvalidConfig');
          assert.equal(error.details.source, variable);
          assert.match(error.message, new RegExp(`^${variable} \\(http://10\\.20\\.30\\.40:4566\\)`));
          assert.equal(ctx.emulator.count(), 0);
        },
      );
    }
    // The SDK can also find an endpoint in the shared config file; the request itself is checked too.
    const dir = mkdtempSync(join(tmpdir(), 'nebula-aws-'));
    writeFileSync(join(dir, 'config'), '[default]\nendpoint_url = http://10.20.30.40:4566\n');
    await withEnv(
      {
        AWS_ENDPOINT_URL_SECRETS_MANAGER: undefined,
        AWS_ENDPOINT_URL: undefined,
        AWS_PROFILE: undefined,
        AWS_CONFIG_FILE: join(dir, 'config'),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
      },
      async () => {
        await using ctx = await setup({ endpoint: undefined });
        const error = await rejection(ctx.provider.connect(), 'InvalidConfig');
        assert.match(error.message, /shared config file/);
        assert.equal(error.retryable, false);
        assert.equal(ctx.emulator.count(), 0);
      },
    );
    // A loopback emulator named by the variable is fine over plain http.
    await withEnv({ AWS_ENDPOINT_URL_SECRETS_MANAGER: undefined, AWS_ENDPOINT_URL: undefined }, async () => {
      await using ctx = await setup({ endpoint: undefined });
      process.env['AWS_ENDPOINT_URL_SECRETS_MANAGER'] = ctx.emulator.endpoint;
      await ctx.provider.connect();
      assert.ok(ctx.emulator.count() > 0);
    });
  });

  it('validates TLS with a private CA: trusted via tls.caFile, refused without it', async () => {
    await using ctx = await setup({}, { tls: true });
    const untrusted = await rejection(ctx.provider.connect(), 'InvalidConfig');
    assert.equal(untrusted.retryable, false);
    assert.match(untrusted.message, /tls\.caFile/);
    assert.equal(ctx.emulator.count(), 0);
    const trusted = new AwsSecretsManagerProvider({
      region: ctx.emulator.region,
      endpoint: ctx.emulator.endpoint,
      credentials: KEY,
      tls: { caFile: ctx.emulator.caCertPath },
    });
    try {
      await trusted.connect();
    } finally {
      await trusted.close();
    }
  });
});
