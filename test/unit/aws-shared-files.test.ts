// The files the AWS SDK reads whole for the default chain (shared config and credentials files, the SSO
// token cache, the web identity token file) get the core regular-file and size checks before the SDK
// reads them: a FIFO or an oversized file fails connect() with InvalidConfig naming the file, instead of
// holding a thread (or the event loop) forever or being read whole, and no file content reaches the error.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { StorageError } from '../../src/core/errors.js';
import { FILE_SIZE_LIMITS } from '../../src/core/files.js';
import { AwsSecretsManagerProvider } from '../../src/providers/aws-secrets-manager.js';
import { runInChild } from './child-client.js';
import { awsChainEnv, withEnv } from './env-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'nebula-aws-files-'));
after(() => rmSync(root, { recursive: true, force: true }));

const SENTINEL = 'SENTINEL-shared-file-secret-8b1d';
let counter = 0;
const home = () => {
  const dir = join(root, `home-${counter++}`);
  mkdirSync(join(dir, '.aws', 'sso', 'cache'), { recursive: true });
  return dir;
};
const fifo = (path: string) => {
  execFileSync('mkfifo', ['-m', '600', path]);
  return path;
};
const ssoCachePath = (dir: string, id: string) =>
  join(dir, '.aws', 'sso', 'cache', `${createHash('sha1').update(id).digest('hex')}.json`);

/** connect() in a fresh process with `env` (every other chain source off); prints code, path and message. */
async function connectInChild(dir: string, env: Record<string, string | undefined>) {
  // Unset variables stay unset (the child inherits this process's environment, which sets none of them).
  const vars = Object.fromEntries(
    Object.entries(awsChainEnv(dir, env)).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
  const { out, hung } = await runInChild(
    `
      const { AwsSecretsManagerProvider } = await import(SRC + 'providers/aws-secrets-manager.js');
      const provider = new AwsSecretsManagerProvider({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', retry: { maxRetries: 0 } });
      try { await provider.connect(); console.log('connected'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, path: e.details?.path, message: e.message })); }
      await provider.close();`,
    vars,
  );
  assert.equal(hung, false, 'connect() hung on a FIFO the SDK read');
  const line = out.trim().split('\n').at(-1) ?? '';
  assert.ok(line.startsWith('{'), out);
  return JSON.parse(line) as { code: string; path: string; message: string };
}

describe('AWS shared files are checked before the SDK reads them', () => {
  it('a FIFO as AWS_CONFIG_FILE fails connect() with InvalidConfig, no hang', async () => {
    const dir = home();
    const config = fifo(join(dir, 'config'));
    const result = await connectInChild(dir, { AWS_CONFIG_FILE: config });
    assert.equal(result.code, 'InvalidConfig', result.message);
    assert.equal(result.path, config);
    assert.match(result.message, /FIFO/);
  });

  it('a FIFO as AWS_SHARED_CREDENTIALS_FILE fails connect() with InvalidConfig, no hang', async () => {
    const dir = home();
    const credentials = fifo(join(dir, 'credentials'));
    const result = await connectInChild(dir, { AWS_SHARED_CREDENTIALS_FILE: credentials });
    assert.equal(result.code, 'InvalidConfig', result.message);
    assert.equal(result.path, credentials);
  });

  it('a FIFO in the SSO token cache of an sso_session profile fails with InvalidConfig, no hang', async () => {
    const dir = home();
    const config = join(dir, 'config');
    writeFileSync(
      config,
      [
        '[profile dev]',
        'sso_session = nebula',
        'sso_account_id = 123456789012',
        'sso_role_name = Reader',
        '[sso-session nebula]',
        'sso_region = us-east-1',
        'sso_start_url = https://nebula.awsapps.com/start',
        '',
      ].join('\n'),
    );
    const token = fifo(ssoCachePath(dir, 'nebula'));
    const result = await connectInChild(dir, { AWS_CONFIG_FILE: config, AWS_PROFILE: 'dev' });
    assert.equal(result.code, 'InvalidConfig', result.message);
    assert.equal(result.path, token);
  });

  it('a FIFO as AWS_WEB_IDENTITY_TOKEN_FILE fails with InvalidConfig, no hang', async () => {
    const dir = home();
    const token = fifo(join(dir, 'web-identity-token'));
    const result = await connectInChild(dir, {
      AWS_WEB_IDENTITY_TOKEN_FILE: token,
      AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/Reader',
    });
    assert.equal(result.code, 'InvalidConfig', result.message);
    assert.equal(result.path, token);
  });

  it('a shared credentials file over the bound is refused unread, its secrets nowhere in the error', async () => {
    const dir = home();
    const credentials = join(dir, 'credentials');
    writeFileSync(
      credentials,
      `[default]\naws_access_key_id = AKIANEBULATEST\naws_secret_access_key = ${SENTINEL}\n`,
    );
    // Sparse: the size is what is checked, the disk holds only the first line.
    truncateSync(credentials, FILE_SIZE_LIMITS.configFile + 1);
    const provider = new AwsSecretsManagerProvider({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      retry: { maxRetries: 0 },
    });
    await withEnv(awsChainEnv(dir, { AWS_SHARED_CREDENTIALS_FILE: credentials }), () =>
      assert.rejects(provider.connect(), (e: unknown) => {
        assert.ok(e instanceof StorageError, inspect(e));
        assert.equal(e.code, 'InvalidConfig', e.message);
        assert.equal(e.details['path'], credentials);
        assert.equal(e.details['limit'], FILE_SIZE_LIMITS.configFile);
        for (const text of [e.message, inspect(e, { depth: 8 }), JSON.stringify(e)]) {
          assert.ok(!text.includes(SENTINEL), text);
        }
        return true;
      }),
    );
    await provider.close();
  });
});
