import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  paginateListSecrets,
  RestoreSecretCommand,
  SecretsManagerClient,
  type SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { createMetadata } from '../../src/core/metadata.js';
import { createStorageProvider } from '../../src/providers/factory.js';
import { AwsSecretsManagerEmulator, cliEmulator } from '../../src/testing/emulators/aws.js';
import { computeSigV4Signature } from '../../src/testing/emulators/aws-sigv4.js';

async function withEmulator(
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

async function awsError(promise: Promise<unknown>): Promise<SecretsManagerServiceException> {
  try {
    await promise;
  } catch (error) {
    return error as SecretsManagerServiceException;
  }
  assert.fail('expected an AWS error');
}

describe('AwsSecretsManagerEmulator through the real SDK', () => {
  it('keeps versions with AWSCURRENT and AWSPREVIOUS stages, and epoch-second dates', () =>
    withEmulator(async (_e, client) => {
      const created = await client.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'v1' }));
      assert.match(
        created.ARN!,
        /^arn:aws:secretsmanager:us-east-1:123456789012:secret:app\/db-[A-Za-z0-9]{6}$/,
      );
      const v2 = await client.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'v2' }));
      const v3 = await client.send(new PutSecretValueCommand({ SecretId: created.ARN!, SecretString: 'v3' }));
      assert.deepEqual(v3.VersionStages, ['AWSCURRENT']);
      const current = await client.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
      assert.equal(current.SecretString, 'v3');
      assert.ok(current.CreatedDate instanceof Date);
      const previous = await client.send(
        new GetSecretValueCommand({ SecretId: 'app/db', VersionStage: 'AWSPREVIOUS' }),
      );
      assert.equal(previous.SecretString, 'v2');
      assert.equal(previous.VersionId, v2.VersionId);
      const first = await client.send(
        new GetSecretValueCommand({ SecretId: 'app/db', VersionId: created.VersionId! }),
      );
      assert.equal(first.SecretString, 'v1');
      assert.deepEqual(first.VersionStages, []);
      // Partial ARN (without the random suffix) resolves too.
      const partial = created.ARN!.slice(0, -7);
      assert.equal((await client.send(new GetSecretValueCommand({ SecretId: partial }))).SecretString, 'v3');
      const described = await client.send(new DescribeSecretCommand({ SecretId: 'app/db' }));
      assert.deepEqual(described.VersionIdsToStages, {
        [v2.VersionId!]: ['AWSPREVIOUS'],
        [v3.VersionId!]: ['AWSCURRENT'],
      });
      assert.ok(described.CreatedDate instanceof Date && described.LastAccessedDate instanceof Date);
    }));

  it('honours ClientRequestToken idempotency on create and put', () =>
    withEmulator(async (_e, client) => {
      const token = 'a'.repeat(32);
      const one = await client.send(
        new CreateSecretCommand({ Name: 'idem', SecretString: 'x', ClientRequestToken: token }),
      );
      const again = await client.send(
        new CreateSecretCommand({ Name: 'idem', SecretString: 'x', ClientRequestToken: token }),
      );
      assert.equal(again.VersionId, one.VersionId);
      const clash = await awsError(
        client.send(new CreateSecretCommand({ Name: 'idem', SecretString: 'y', ClientRequestToken: token })),
      );
      assert.equal(clash.name, 'ResourceExistsException');
      const exists = await awsError(
        client.send(new CreateSecretCommand({ Name: 'idem', SecretString: 'x' })),
      );
      assert.equal(exists.name, 'ResourceExistsException');
      assert.equal(exists.$metadata.httpStatusCode, 400);
      const put = 'b'.repeat(40);
      await client.send(
        new PutSecretValueCommand({ SecretId: 'idem', SecretString: 'z', ClientRequestToken: put }),
      );
      await client.send(new PutSecretValueCommand({ SecretId: 'idem', SecretString: 'w' }));
      await client.send(
        new PutSecretValueCommand({ SecretId: 'idem', SecretString: 'z', ClientRequestToken: put }),
      );
      const current = await client.send(new GetSecretValueCommand({ SecretId: 'idem' }));
      assert.equal(current.SecretString, 'w', 'a repeated token is a no-op, not a new current version');
      const mismatch = await awsError(
        client.send(
          new PutSecretValueCommand({ SecretId: 'idem', SecretString: 'q', ClientRequestToken: put }),
        ),
      );
      assert.equal(mismatch.name, 'ResourceExistsException');
    }));

  it('schedules deletion with a recovery window, hides scheduled secrets, and restores them', () =>
    withEmulator(async (_e, client) => {
      await client.send(new CreateSecretCommand({ Name: 'doomed', SecretString: 'x' }));
      const both = await awsError(
        client.send(
          new DeleteSecretCommand({
            SecretId: 'doomed',
            RecoveryWindowInDays: 7,
            ForceDeleteWithoutRecovery: true,
          }),
        ),
      );
      assert.equal(both.name, 'InvalidParameterException');
      const short = await awsError(
        client.send(new DeleteSecretCommand({ SecretId: 'doomed', RecoveryWindowInDays: 6 })),
      );
      assert.equal(short.name, 'InvalidParameterException');
      const deleted = await client.send(
        new DeleteSecretCommand({ SecretId: 'doomed', RecoveryWindowInDays: 7 }),
      );
      assert.ok(deleted.DeletionDate instanceof Date);
      assert.equal(
        (await awsError(client.send(new GetSecretValueCommand({ SecretId: 'doomed' })))).name,
        'InvalidRequestException',
      );
      const recreate = await awsError(
        client.send(new CreateSecretCommand({ Name: 'doomed', SecretString: 'y' })),
      );
      assert.equal(recreate.name, 'InvalidRequestException');
      assert.match(recreate.message, /scheduled for deletion/);
      assert.ok(
        (await client.send(new DescribeSecretCommand({ SecretId: 'doomed' }))).DeletedDate instanceof Date,
      );
      assert.equal((await client.send(new ListSecretsCommand({}))).SecretList!.length, 0);
      const planned = await client.send(new ListSecretsCommand({ IncludePlannedDeletion: true }));
      assert.equal(planned.SecretList!.length, 1);
      await client.send(new RestoreSecretCommand({ SecretId: 'doomed' }));
      assert.equal((await client.send(new GetSecretValueCommand({ SecretId: 'doomed' }))).SecretString, 'x');
      await client.send(new DeleteSecretCommand({ SecretId: 'doomed', ForceDeleteWithoutRecovery: true }));
      assert.equal(
        (await awsError(client.send(new DescribeSecretCommand({ SecretId: 'doomed' })))).name,
        'ResourceNotFoundException',
      );
    }));

  it('paginates ListSecrets with NextToken and applies prefix, tag and negated filters', () =>
    withEmulator(async (_e, client) => {
      for (let i = 0; i < 7; i++) {
        await client.send(
          new CreateSecretCommand({
            Name: `${i % 2 ? 'Team' : 'other'}/s${i}`,
            SecretString: 'x',
            Tags: [{ Key: 'parity', Value: i % 2 ? 'odd' : 'even' }],
          }),
        );
      }
      const names: string[] = [];
      let pages = 0;
      for await (const page of paginateListSecrets({ client, pageSize: 2 }, {})) {
        pages++;
        names.push(...(page.SecretList ?? []).map((s) => s.Name!));
      }
      assert.equal(pages, 4);
      assert.equal(names.length, 7);
      const byName = await client.send(
        new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['Team/'] }] }),
      );
      assert.equal(byName.SecretList!.length, 3);
      const wrongCase = await client.send(
        new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['team/'] }] }),
      );
      assert.equal(wrongCase.SecretList!.length, 0, 'name filters are case-sensitive');
      const byTag = await client.send(
        new ListSecretsCommand({
          Filters: [
            { Key: 'tag-key', Values: ['parity'] },
            { Key: 'tag-value', Values: ['!odd'] },
          ],
        }),
      );
      assert.equal(byTag.SecretList!.length, 4);
      const bad = await awsError(client.send(new ListSecretsCommand({ NextToken: 'garbage' })));
      assert.equal(bad.name, 'InvalidNextTokenException');
      const badValue = await awsError(
        client.send(new ListSecretsCommand({ Filters: [{ Key: 'tag-value', Values: ['é'] }] })),
      );
      assert.equal(badValue.name, 'InvalidParameterException');
    }));

  it('refuses bad signatures the way AWS does', () =>
    withEmulator(async (emulator) => {
      const wrong = new SecretsManagerClient({
        region: emulator.region,
        endpoint: emulator.endpoint,
        credentials: { accessKeyId: emulator.credentials.accessKeyId, secretAccessKey: 'nope' },
        maxAttempts: 1,
      });
      const otherRegion = new SecretsManagerClient({
        region: 'eu-west-1',
        endpoint: emulator.endpoint,
        credentials: emulator.credentials,
        maxAttempts: 1,
      });
      try {
        const sig = await awsError(wrong.send(new ListSecretsCommand({})));
        assert.equal(sig.name, 'InvalidSignatureException');
        assert.match(sig.message, /does not match the signature you provided/);
        const region = await awsError(otherRegion.send(new ListSecretsCommand({})));
        assert.equal(region.name, 'InvalidSignatureException');
      } finally {
        wrong.destroy();
        otherRegion.destroy();
      }
      const unsigned = await fetch(emulator.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'secretsmanager.ListSecrets',
        },
        body: '{}',
      });
      assert.equal(unsigned.status, 400);
      assert.equal(
        ((await unsigned.json()) as { __type: string }).__type,
        'MissingAuthenticationTokenException',
      );
      // A stale signature (clock skew over 5 minutes) is expired.
      const stamp = new Date(Date.now() - 10 * 60_000).toISOString().replace(/[-:]|\.\d{3}/g, '');
      const host = new URL(emulator.endpoint).host;
      const headers = { host, 'x-amz-date': stamp, 'x-amz-target': 'secretsmanager.ListSecrets' };
      const signature = computeSigV4Signature({
        method: 'POST',
        url: '/',
        headers,
        body: Buffer.from('{}'),
        signedHeaders: ['host', 'x-amz-date', 'x-amz-target'],
        secretAccessKey: emulator.credentials.secretAccessKey,
        date: stamp.slice(0, 8),
        region: emulator.region,
        service: 'secretsmanager',
      });
      const stale = await fetch(emulator.endpoint, {
        method: 'POST',
        headers: {
          ...headers,
          authorization: `AWS4-HMAC-SHA256 Credential=${emulator.credentials.accessKeyId}/${stamp.slice(0, 8)}/${emulator.region}/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=${signature}`,
        },
        body: '{}',
      });
      const body = (await stale.json()) as { __type: string; message: string };
      assert.equal(body.__type, 'InvalidSignatureException');
      assert.match(body.message, /Signature expired/);
    }));

  it('requires the session token of temporary credentials', () =>
    withEmulator(
      async (emulator) => {
        const without = new SecretsManagerClient({
          region: emulator.region,
          endpoint: emulator.endpoint,
          credentials: { accessKeyId: 'ASIATEMPORARY0000001', secretAccessKey: 'temp-secret' },
          maxAttempts: 1,
        });
        const withToken = new SecretsManagerClient({
          region: emulator.region,
          endpoint: emulator.endpoint,
          credentials: emulator.credentials,
          maxAttempts: 1,
        });
        try {
          assert.equal(
            (await awsError(without.send(new ListSecretsCommand({})))).name,
            'UnrecognizedClientException',
          );
          await withToken.send(new ListSecretsCommand({}));
        } finally {
          without.destroy();
          withToken.destroy();
        }
      },
      {
        accessKeys: [
          {
            accessKeyId: 'ASIATEMPORARY0000001',
            secretAccessKey: 'temp-secret',
            sessionToken: 'session-token-1',
          },
        ],
      },
    ));

  it('starts from the CLI entry with https and a config that createStorageProvider accepts as it is', async () => {
    const running = await cliEmulator.start({ port: 0 });
    try {
      const info = running.info as Record<string, unknown>;
      assert.equal(info['service'], 'aws');
      assert.match(String(info['endpoint']), /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(info['region'], 'us-east-1');
      assert.ok(info['accessKeyId'] && info['secretAccessKey'] && info['caCertPath']);
      const provider = await createStorageProvider(JSON.parse(JSON.stringify(info['config'])));
      try {
        const data = {
          version: 1,
          keyId: 'k',
          nonce: randomBytes(12),
          ciphertext: Buffer.from('cli'),
          tag: randomBytes(16),
        };
        await provider.store('cli_check', data, createMetadata());
        assert.deepEqual(await provider.list(), ['cli_check']);
      } finally {
        await provider.close();
      }
    } finally {
      await running.stop();
    }
    const plain = await cliEmulator.start({ http: true });
    try {
      assert.match(String(plain.info['endpoint']), /^http:\/\//);
      assert.equal(plain.info['caCertPath'], undefined);
    } finally {
      await plain.stop();
    }
  });
});

const python = spawnSync('python3', ['-c', 'import botocore'], { encoding: 'utf8' });
const botocoreMissing =
  python.status === 0
    ? false
    : 'python3 with botocore is not installed (pip install botocore), fidelity check skipped';
const awsCliMissing =
  spawnSync('aws', ['--version'], { encoding: 'utf8' }).status === 0
    ? false
    : 'the aws CLI is not installed, fidelity check skipped';

function run(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out, err }));
  });
}

const BOTOCORE_SCRIPT = `
import json, os
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
s = botocore.session.get_session()
def client(secret):
    return s.create_client('secretsmanager', region_name=os.environ['EMU_REGION'], endpoint_url=os.environ['EMU_ENDPOINT'],
        aws_access_key_id=os.environ['EMU_AKID'], aws_secret_access_key=secret, verify=os.environ['EMU_CA'],
        config=Config(retries={'max_attempts': 0}))
c = client(os.environ['EMU_SECRET'])
out = {}
r = c.create_secret(Name='py/secret', SecretString='one', Tags=[{'Key': 'env', 'Value': 'prod'}])
out['arn'] = r['ARN']
c.put_secret_value(SecretId='py/secret', SecretString='two')
out['current'] = c.get_secret_value(SecretId='py/secret')['SecretString']
out['previous'] = c.get_secret_value(SecretId='py/secret', VersionStage='AWSPREVIOUS')['SecretString']
d = c.describe_secret(SecretId=r['ARN'])
out['createdIsDate'] = hasattr(d['CreatedDate'], 'year')
c.tag_resource(SecretId='py/secret', Tags=[{'Key': 'team', 'Value': 'x'}])
c.untag_resource(SecretId='py/secret', TagKeys=['env'])
out['tags'] = c.describe_secret(SecretId='py/secret')['Tags']
pages = c.get_paginator('list_secrets').paginate(PaginationConfig={'PageSize': 1})
out['listed'] = sorted(e['Name'] for p in pages for e in p['SecretList'])
out['fromJs'] = json.loads(c.get_secret_value(SecretId='nebula/credentials/js_value')['SecretString'])['format']
c.delete_secret(SecretId='py/secret', RecoveryWindowInDays=7)
try:
    c.get_secret_value(SecretId='py/secret')
except ClientError as e:
    out['deletedCode'] = e.response['Error']['Code']
c.restore_secret(SecretId='py/secret')
try:
    client('wrong-secret').list_secrets()
except ClientError as e:
    out['badSignature'] = e.response['Error']['Code']
try:
    c.get_secret_value(SecretId='missing')
except ClientError as e:
    out['missing'] = [e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']]
print(json.dumps(out))
`;

describe('AwsSecretsManagerEmulator with other real AWS clients', () => {
  it('serves botocore (Python) over https unchanged', { skip: botocoreMissing }, async () => {
    const emulator = new AwsSecretsManagerEmulator({ tls: true });
    await emulator.start();
    try {
      const provider = await createStorageProvider({
        provider: 'aws-secrets-manager',
        region: emulator.region,
        endpoint: emulator.endpoint,
        credentials: emulator.credentials,
        tls: { caFile: emulator.caCertPath },
      });
      const data = {
        version: 1,
        keyId: 'k',
        nonce: randomBytes(12),
        ciphertext: Buffer.from('js'),
        tag: randomBytes(16),
      };
      await provider.store('js_value', data, createMetadata());
      await provider.close();
      const result = await run('python3', ['-c', BOTOCORE_SCRIPT], {
        EMU_ENDPOINT: emulator.endpoint,
        EMU_REGION: emulator.region,
        EMU_AKID: emulator.credentials.accessKeyId,
        EMU_SECRET: emulator.credentials.secretAccessKey,
        EMU_CA: emulator.caCertPath!,
      });
      assert.equal(result.code, 0, result.err);
      const out = JSON.parse(result.out) as Record<string, unknown>;
      assert.match(String(out['arn']), /:secret:py\/secret-\w{6}$/);
      assert.equal(out['current'], 'two');
      assert.equal(out['previous'], 'one');
      assert.equal(out['createdIsDate'], true);
      assert.deepEqual(out['tags'], [{ Key: 'team', Value: 'x' }]);
      assert.deepEqual(out['listed'], ['nebula/credentials/js_value', 'py/secret']);
      assert.equal(out['fromJs'], 'nebula-credential/v1');
      assert.equal(out['deletedCode'], 'InvalidRequestException');
      assert.equal(out['badSignature'], 'InvalidSignatureException');
      assert.deepEqual(out['missing'], ['ResourceNotFoundException', 400]);
    } finally {
      await emulator.stop();
    }
  });

  it('serves the aws CLI unchanged', { skip: awsCliMissing }, async () => {
    const emulator = new AwsSecretsManagerEmulator({ tls: true });
    await emulator.start();
    const home = mkdtempSync(join(tmpdir(), 'nebula-awscli-'));
    const env = {
      HOME: home,
      AWS_ACCESS_KEY_ID: emulator.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: emulator.credentials.secretAccessKey,
      AWS_DEFAULT_REGION: emulator.region,
      AWS_CONFIG_FILE: join(home, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
      AWS_CA_BUNDLE: emulator.caCertPath!,
      AWS_MAX_ATTEMPTS: '1',
      AWS_PAGER: '',
    };
    const common = ['--endpoint-url', emulator.endpoint, '--output', 'json'];
    try {
      const created = await run(
        'aws',
        ['secretsmanager', 'create-secret', '--name', 'cli/secret', '--secret-string', 'from-cli', ...common],
        env,
      );
      assert.equal(created.code, 0, created.err);
      const got = await run(
        'aws',
        ['secretsmanager', 'get-secret-value', '--secret-id', 'cli/secret', ...common],
        env,
      );
      assert.equal(got.code, 0, got.err);
      assert.equal((JSON.parse(got.out) as { SecretString: string }).SecretString, 'from-cli');
      const missing = await run(
        'aws',
        ['secretsmanager', 'describe-secret', '--secret-id', 'nope', ...common],
        env,
      );
      assert.notEqual(missing.code, 0);
      assert.match(missing.err, /ResourceNotFoundException/);
    } finally {
      await emulator.stop();
    }
  });
});
