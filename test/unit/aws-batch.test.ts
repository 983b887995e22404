import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { EncryptionManager } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import { CredentialStore } from '../../src/core/store.js';
import { AwsSecretsManagerProvider } from '../../src/providers/aws-secrets-manager.js';
import type { AwsSecretsManagerEmulator } from '../../src/testing/emulators/aws.js';
import { awsError, withEmulator } from './aws-helpers.js';

describe('AWS emulator: BatchGetSecretValue through the real SDK', () => {
  it('returns the values of a SecretIdList in order and each failure in Errors', () =>
    withEmulator(async (_e, client) => {
      for (const name of ['b/one', 'b/two', 'b/gone']) {
        await client.send(new CreateSecretCommand({ Name: name, SecretString: `value ${name}` }));
      }
      await client.send(new DeleteSecretCommand({ SecretId: 'b/gone', RecoveryWindowInDays: 7 }));
      const out = await client.send(
        new BatchGetSecretValueCommand({ SecretIdList: ['b/two', 'b/missing', 'b/one', 'b/gone'] }),
      );
      assert.deepEqual(
        out.SecretValues?.map((v) => [v.Name, v.SecretString, v.VersionStages]),
        [
          ['b/two', 'value b/two', ['AWSCURRENT']],
          ['b/one', 'value b/one', ['AWSCURRENT']],
        ],
      );
      for (const v of out.SecretValues ?? []) {
        assert.match(
          v.ARN ?? '',
          /^arn:aws:secretsmanager:us-east-1:123456789012:secret:b\/(one|two)-[A-Za-z0-9]{6}$/,
        );
        assert.ok(v.CreatedDate instanceof Date, 'CreatedDate is an epoch-seconds date');
        assert.ok(v.VersionId);
      }
      assert.deepEqual(
        out.Errors?.map((e) => [e.SecretId, e.ErrorCode]),
        [
          ['b/missing', 'ResourceNotFoundException'],
          ['b/gone', 'InvalidRequestException'],
        ],
      );
      assert.equal(out.NextToken, undefined);
    }));

  it('refuses more than 20 ids, both or neither of SecretIdList and Filters, and MaxResults without Filters', () =>
    withEmulator(async (_e, client) => {
      const many = Array.from({ length: 21 }, (_, i) => `id${i}`);
      const tooMany = await awsError(client.send(new BatchGetSecretValueCommand({ SecretIdList: many })));
      assert.equal(tooMany.name, 'ValidationException');
      assert.equal(tooMany.$metadata.httpStatusCode, 400);
      const both = await awsError(
        client.send(
          new BatchGetSecretValueCommand({ SecretIdList: ['a'], Filters: [{ Key: 'name', Values: ['a'] }] }),
        ),
      );
      assert.equal(both.name, 'InvalidParameterException');
      const neither = await awsError(client.send(new BatchGetSecretValueCommand({})));
      assert.equal(neither.name, 'InvalidParameterException');
      const max = await awsError(
        client.send(new BatchGetSecretValueCommand({ SecretIdList: ['a'], MaxResults: 5 })),
      );
      assert.equal(max.name, 'InvalidParameterException');
      const range = await awsError(
        client.send(
          new BatchGetSecretValueCommand({ Filters: [{ Key: 'name', Values: ['a'] }], MaxResults: 21 }),
        ),
      );
      assert.equal(range.name, 'ValidationException');
    }));

  it('pages a Filters query with MaxResults and NextToken', () =>
    withEmulator(async (_e, client) => {
      for (let i = 0; i < 5; i++) {
        await client.send(new CreateSecretCommand({ Name: `paged/${i}`, SecretString: `v${i}` }));
      }
      await client.send(new CreateSecretCommand({ Name: 'other/x', SecretString: 'x' }));
      const names: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await client.send(
          new BatchGetSecretValueCommand({
            Filters: [{ Key: 'name', Values: ['paged/'] }],
            MaxResults: 2,
            ...(token ? { NextToken: token } : {}),
          }),
        );
        names.push(...(page.SecretValues ?? []).map((v) => v.Name!));
        token = page.NextToken;
        pages++;
      } while (token);
      assert.deepEqual(names, ['paged/0', 'paged/1', 'paged/2', 'paged/3', 'paged/4']);
      assert.equal(pages, 3);
    }));

  it('needs BatchGetSecretValue for the call and GetSecretValue for each secret (per-id AccessDenied)', () =>
    withEmulator(async (emulator, client) => {
      await client.send(new CreateSecretCommand({ Name: 'p/one', SecretString: 'v' }));
      const keyId = emulator.credentials.accessKeyId;
      emulator.setAllowedActions(keyId, ['secretsmanager:BatchGetSecretValue']);
      const out = await client.send(new BatchGetSecretValueCommand({ SecretIdList: ['p/one'] }));
      assert.equal(out.SecretValues?.length, 0);
      assert.equal(out.Errors?.[0]?.ErrorCode, 'AccessDeniedException');
      assert.match(out.Errors?.[0]?.Message ?? '', /secretsmanager:GetSecretValue/);
      emulator.setAllowedActions(keyId, ['secretsmanager:GetSecretValue']);
      const denied = await awsError(client.send(new BatchGetSecretValueCommand({ SecretIdList: ['p/one'] })));
      assert.equal(denied.name, 'AccessDeniedException');
    }));
});

describe('AWS provider: getMany', () => {
  const setup = async (emulator: AwsSecretsManagerEmulator) => {
    const provider = new AwsSecretsManagerProvider({
      region: emulator.region,
      endpoint: emulator.endpoint,
      credentials: emulator.credentials,
      retry: { maxRetries: 0 },
    });
    await provider.connect();
    const key = EncryptionManager.generate();
    return { provider, store: new CredentialStore(provider, key) };
  };

  it('reads 45 credentials in 3 BatchGetSecretValue calls, a scheduled deletion as NotFound', () =>
    withEmulator(async (emulator) => {
      const { provider, store } = await setup(emulator);
      try {
        const ids = Array.from({ length: 45 }, (_, i) => `many_${i}`);
        for (const id of ids) await store.put(id, `v-${id}`);
        await store.delete('many_7');
        const batches = emulator.count('BatchGetSecretValue');
        const gets = emulator.count('GetSecretValue');
        const results = await store.getMany(ids);
        assert.equal(emulator.count('BatchGetSecretValue') - batches, 3);
        // Only the secret scheduled for deletion is read again on its own, to tell why it failed.
        assert.equal(emulator.count('GetSecretValue') - gets, 1);
        for (const r of results) {
          if (r.id === 'many_7') {
            assert.ok(!r.ok);
            assert.equal(r.error.code, 'NotFound');
            assert.equal(r.error.details['scheduledForDeletion'], true);
          } else {
            assert.ok(r.ok, r.ok ? '' : r.error.message);
            assert.equal(r.secret.expose(), `v-${r.id}`);
            r.secret.dispose();
          }
        }
      } finally {
        await provider.close();
      }
    }));

  it('falls back to GetSecretValue per id when BatchGetSecretValue is denied, and remembers it', () =>
    withEmulator(async (emulator) => {
      const { provider, store } = await setup(emulator);
      try {
        await store.put('fb_a', 'a');
        await store.put('fb_b', 'b');
        emulator.setAllowedActions(emulator.credentials.accessKeyId, [
          'secretsmanager:GetSecretValue',
          'secretsmanager:DescribeSecret',
        ]);
        const gets = emulator.count('GetSecretValue');
        const first = await store.getMany(['fb_a', 'fb_b']);
        assert.ok(first.every((r) => r.ok));
        assert.equal(emulator.count('BatchGetSecretValue'), 1, 'the batch was tried once');
        assert.equal(emulator.count('GetSecretValue') - gets, 2);
        await store.getMany(['fb_a', 'fb_b']);
        assert.equal(emulator.count('BatchGetSecretValue'), 1, 'a denied batch was tried again');
      } finally {
        await provider.close();
      }
    }));

  it('maps a per-id AccessDenied to PermissionDenied for that id only', () =>
    withEmulator(async (emulator) => {
      const { provider, store } = await setup(emulator);
      try {
        await store.put('den_a', 'a');
        emulator.setAllowedActions(emulator.credentials.accessKeyId, ['secretsmanager:BatchGetSecretValue']);
        const [result] = await store.getMany(['den_a', 'bad id']);
        assert.ok(result && !result.ok);
        assert.ok(result.error instanceof StorageError);
        assert.equal(result.error.code, 'PermissionDenied');
        assert.equal(result.error.credentialId, 'den_a');
        assert.equal(result.error.details['action'], 'secretsmanager:GetSecretValue');
      } finally {
        await provider.close();
      }
    }));
});
