// A profile's credential_process runs through the library's bounded runner, not the SDK's exec: its
// credentials sign real calls the emulator verifies (session token included), alone or as the source of a
// role; an oversized answer is `Unavailable` with the bound, a hanging command is a `Timeout` at the connect
// deadline and is killed, a failing one is `AuthenticationFailed` with its exit code and stderr's tail, and
// a bad answer is `AuthenticationFailed` that never quotes it.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import type { StorageError } from '../../src/core/errors.js';
import { CREDENTIAL_HELPER_OUTPUT_LIMITS } from '../../src/core/process-run.js';
import { AwsSecretsManagerProvider } from '../../src/providers/aws-secrets-manager.js';
import { rejectsWithStorageError } from '../../src/testing/assertions.js';
import { AwsSecretsManagerEmulator } from '../../src/testing/emulators/aws.js';
import { awsChainEnv, withEnv } from './env-helpers.js';
import { processGone } from './process-helpers.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const SENTINEL = {
  secretAccessKey: 'SENTINEL-process-secret-key-3b7d',
  sessionToken: 'SENTINEL-process-session-token-8c1e',
};
const KEY_ID = 'ASIAPROCESSTEST00001';
const BASE_KEY_ID = 'ASIAPROCESSBASE00001';

const emulator = new AwsSecretsManagerEmulator({
  accessKeys: [
    { accessKeyId: KEY_ID, secretAccessKey: SENTINEL.secretAccessKey, sessionToken: SENTINEL.sessionToken },
  ],
});
let started: Promise<unknown> | undefined;
async function provider(connectMs?: number): Promise<AwsSecretsManagerProvider> {
  if (!started) {
    started = emulator.start();
    cleanups.push(() => emulator.stop());
  }
  await started;
  const p = new AwsSecretsManagerProvider({
    region: emulator.region,
    endpoint: emulator.endpoint,
    retry: { maxRetries: 0 },
    ...(connectMs ? { timeouts: { connectMs } } : {}),
  });
  cleanups.push(() => p.close());
  return p;
}

const answer = (fields: Record<string, unknown> = {}) =>
  JSON.stringify({
    Version: 1,
    AccessKeyId: KEY_ID,
    SecretAccessKey: SENTINEL.secretAccessKey,
    SessionToken: SENTINEL.sessionToken,
    Expiration: new Date(Date.now() + 3600_000).toISOString(),
    ...fields,
  });

/**
 * A scratch HOME with a config file whose profile `app` runs a node script of `body` as its
 * credential_process (`runs` records each run's pid), and the chain's variables for it.
 */
function processProfile(body: string, extraConfig: string[] = [], profile = 'app') {
  const dir = mkdtempSync(join(tmpdir(), 'nebula-aws-process-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'process.cjs');
  const runs = join(dir, 'runs');
  writeFileSync(
    script,
    `require('node:fs').appendFileSync(${JSON.stringify(runs)}, process.pid + '\\n');\n${body}\n`,
  );
  // The folder declares CommonJS, so a package.json with "type": "module" above it changes nothing.
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}');
  const config = join(dir, 'config');
  writeFileSync(
    config,
    [
      '[profile app]',
      `credential_process = "${process.execPath}" "${script}" --profile app`,
      ...extraConfig,
      '',
    ].join('\n'),
  );
  return {
    dir,
    env: awsChainEnv(dir, { AWS_CONFIG_FILE: config, AWS_PROFILE: profile }),
    pids: () => {
      try {
        return readFileSync(runs, 'utf8').trim().split('\n').filter(Boolean).map(Number);
      } catch {
        return [];
      }
    },
  };
}

const printing = (text: string) => `process.stdout.write(${JSON.stringify(text)});`;

function assertNoSecrets(error: StorageError): void {
  const shown = [error.message, inspect(error, { depth: 8 }), JSON.stringify(error), String(error.stack)];
  for (const [name, value] of Object.entries(SENTINEL)) {
    for (const text of shown) assert.ok(!text.includes(value), `${name} leaked: ${text}`);
  }
}

async function connectFails(env: Record<string, string | undefined>, connectMs?: number) {
  return withEnv(env, async () => {
    const p = await provider(connectMs);
    const error = await rejectsWithStorageError(p.connect());
    assertNoSecrets(error);
    return error;
  });
}

describe('AWS credential_process through the bounded runner', () => {
  it('its credentials sign calls end to end (session token included), and it runs once for many calls', async () => {
    const s = processProfile(
      `if (process.argv[2] !== '--profile' || !process.env.HOME) process.exit(9);\n${printing(answer())}`,
    );
    await withEnv(s.env, async () => {
      const p = await provider();
      await p.connect();
      assert.equal(await p.exists('nebula-process-probe'), false);
      assert.equal(await p.exists('nebula-process-probe-2'), false);
    });
    assert.equal(s.pids().length, 1);
    const signed = emulator.requests.filter(
      (r) => r.headers['x-amz-security-token'] === SENTINEL.sessionToken,
    );
    assert.ok(signed.length >= 3, 'the session token was not sent');
  });

  it('as the source_profile of a role: its keys sign the AssumeRole call', async () => {
    const authorizations: string[] = [];
    const sts = createServer((req: IncomingMessage, res) => {
      authorizations.push(String(req.headers.authorization ?? ''));
      req.resume();
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(
        `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>${KEY_ID}</AccessKeyId><SecretAccessKey>${SENTINEL.secretAccessKey}</SecretAccessKey><SessionToken>${SENTINEL.sessionToken}</SessionToken><Expiration>${new Date(Date.now() + 3600_000).toISOString()}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/role/nebula</Arn><AssumedRoleId>AROANEBULA:nebula</AssumedRoleId></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>`,
      );
    });
    await new Promise<void>((r) => sts.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => sts.close(r)));
    const s = processProfile(
      printing(answer({ AccessKeyId: BASE_KEY_ID, SecretAccessKey: 'base-secret', SessionToken: undefined })),
      [
        '',
        '[profile role]',
        'role_arn = arn:aws:iam::123456789012:role/role',
        'role_session_name = nebula',
        'source_profile = app',
        'region = us-east-1',
      ],
      'role',
    );
    const url = `http://127.0.0.1:${(sts.address() as { port: number }).port}`;
    await withEnv({ ...s.env, AWS_ENDPOINT_URL_STS: url }, async () => {
      const p = await provider();
      await p.connect();
    });
    assert.equal(s.pids().length, 1);
    assert.equal(authorizations.length, 1);
    assert.match(authorizations[0]!, new RegExp(`Credential=${BASE_KEY_ID}/`));
  });

  // Old code: the SDK's exec fails with its maxBuffer error, and the chain goes on to "no credentials found".
  it('an answer past the stdout bound is Unavailable with limitBytes, and the command is killed', async () => {
    const s = processProfile(
      `const chunk = Buffer.alloc(64 * 1024, 0x20); process.stdout.write('{"SecretAccessKey":"${SENTINEL.secretAccessKey}"');
      let left = 32; const pump = () => { while (left-- > 0) { if (!process.stdout.write(chunk)) { process.stdout.once('drain', pump); return; } } setInterval(() => {}, 1000); };
      pump();`,
    );
    const error = await connectFails(s.env, 20_000);
    assert.equal(error.code, 'Unavailable', error.message);
    assert.equal(error.retryable, false);
    assert.equal(error.details['limitBytes'], CREDENTIAL_HELPER_OUTPUT_LIMITS.stdoutBytes);
    assert.match(error.message, /credential_process of AWS profile "app"/);
    assert.ok(await processGone(s.pids()[0]!), 'the command was not killed');
  });

  // Old code: the chain gave up with "no AWS credentials resolved within" and the command ran on.
  it('a hanging command (and the child it started) is a Timeout at the connect deadline and is killed', async () => {
    const s = processProfile(
      `const { spawn } = require('node:child_process');
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'inherit' });
      require('node:fs').appendFileSync(require('node:path').join(__dirname, 'runs'), child.pid + '\\n');
      setInterval(() => {}, 1000);`,
    );
    const error = await connectFails(s.env, 1500);
    assert.equal(error.code, 'Timeout', error.message);
    assert.equal(error.details['source'], 'credential_process');
    assert.equal(s.pids().length, 2);
    for (const pid of s.pids()) assert.ok(await processGone(pid), `process ${pid} was not killed`);
  });

  // Old code: the failure was passed over to the next link, and connect said only "no credentials found".
  it('a non-zero exit is AuthenticationFailed with the exit code and the tail of stderr', async () => {
    const s = processProfile(
      `${printing(answer())} process.stderr.write('x'.repeat(8000) + ' token expired, run aws sso login'); process.exitCode = 3;`,
    );
    const error = await connectFails(s.env);
    assert.equal(error.code, 'AuthenticationFailed', error.message);
    assert.equal(error.retryable, false);
    assert.equal(error.details['exitCode'], 3);
    assert.match(error.message, /exit code 3: x+ token expired, run aws sso login$/);
    assert.ok(error.message.length < 3000, 'more than the tail of stderr');
  });

  // Old code: connect said only "no credentials found" (the SDK's own words stayed in the cause).
  it('bad answers are AuthenticationFailed in the SDK terms, never quoting the output', async () => {
    for (const [output, pattern] of [
      [`{"Version": 1, "SecretAccessKey": "${SENTINEL.secretAccessKey}"`, /returned invalid JSON/],
      [answer({ Version: 2 }), /did not return Version 1/],
      [answer({ AccessKeyId: undefined }), /returned invalid credentials/],
      [answer({ Expiration: '2001-01-01T00:00:00Z' }), /returned expired credentials/],
      [answer({ Expiration: `not a time ${SENTINEL.sessionToken}` }), /Expiration is not an ISO 8601 time/],
    ] as const) {
      const s = processProfile(printing(output));
      const error = await connectFails(s.env);
      assert.equal(error.code, 'AuthenticationFailed', error.message);
      assert.equal(error.retryable, false);
      assert.match(error.message, pattern);
      assert.equal(error.details['profile'], 'app');
    }
  });

  it('a command the shell cannot find is AuthenticationFailed with the shell status 127', async () => {
    const s = processProfile('');
    writeFileSync(
      join(s.dir, 'config'),
      `[profile app]\ncredential_process = ${join(s.dir, 'no-such-helper')} --json\n`,
    );
    const error = await connectFails(s.env);
    assert.equal(error.code, 'AuthenticationFailed', error.message);
    assert.equal(error.details['exitCode'], 127);
  });
});
