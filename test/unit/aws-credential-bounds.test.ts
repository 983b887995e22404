// The AWS default chain's container-credentials, EC2 instance-metadata and SSO requests read their answers
// through the response bound: a normal answer signs real calls to the emulator; an endless one is cut at
// the bound with `Unavailable` (not retryable, `details.limitBytes`), promptly and without buffering it,
// and neither the container authorization token nor any credential appears in the error.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { StorageError } from '../../src/core/errors.js';
import { responseBodyLimit } from '../../src/core/response-limit.js';
import { AwsSecretsManagerProvider } from '../../src/providers/aws-secrets-manager.js';
import { AwsSecretsManagerEmulator } from '../../src/testing/emulators/aws.js';
import { awsChainEnv, withEnv } from './env-helpers.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Far above every bound: a client without one would buffer all of it. */
const HUGE = 96 * 1024 * 1024;

const SENTINEL = {
  authToken: 'SENTINEL-container-auth-token-5c1f',
  imdsToken: 'SENTINEL-imds-session-token-7d2e',
  ssoToken: 'SENTINEL-sso-access-token-9a3b',
  secretAccessKey: 'SENTINEL-secret-access-key-1e4c',
  sessionToken: 'SENTINEL-session-token-2f6a',
};

/** The emulator accepts exactly the credentials the endpoints under test hand out. */
const emulator = new AwsSecretsManagerEmulator({
  accessKeys: [
    {
      accessKeyId: 'ASIANEBULATEST00001',
      secretAccessKey: SENTINEL.secretAccessKey,
      sessionToken: SENTINEL.sessionToken,
    },
  ],
});
let started: Promise<unknown> | undefined;
const startEmulator = async () => {
  if (!started) {
    started = emulator.start();
    cleanups.push(() => emulator.stop());
  }
  await started;
  return emulator;
};

const expiry = () => new Date(Date.now() + 3600_000).toISOString();
const credentialDocument = () =>
  JSON.stringify({
    Code: 'Success',
    AccessKeyId: 'ASIANEBULATEST00001',
    SecretAccessKey: SENTINEL.secretAccessKey,
    Token: SENTINEL.sessionToken,
    Expiration: expiry(),
  });

/** A loopback endpoint; a route answering `'endless'` streams {@link HUGE} bytes without Content-Length. */
interface Endpoint {
  url: string;
  requests: { method: string; path: string; headers: IncomingMessage['headers'] }[];
  /** Bytes written of endless bodies. */
  sent: number;
}

async function endpoint(
  route: (req: IncomingMessage) => { status?: number; body: string } | 'endless',
  endlessPrefix = '',
): Promise<Endpoint> {
  const state: Endpoint = { url: '', requests: [], sent: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    req.resume();
    const answer = route(req);
    if (answer !== 'endless') {
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' });
      res.end(answer.body);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    // A credentials document that never ends: its values come first, then padding forever.
    res.write(endlessPrefix);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      let more = true;
      while (state.sent < HUGE && more) {
        state.sent += chunk.length;
        more = res.write(chunk);
      }
      if (state.sent >= HUGE) res.end();
    };
    res.on('drain', pump);
    res.on('close', () => res.off('drain', pump));
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  server.on('connection', (s) => cleanups.push(() => s.destroy()));
  cleanups.push(() => new Promise((r) => server.close(r)));
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return state;
}

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nebula-aws-bounds-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A scratch folder holding a shared config file of `lines`. */
function withConfig(lines: string[]): { dir: string; config: string } {
  const dir = scratch();
  const config = join(dir, 'config');
  writeFileSync(config, [...lines, ''].join('\n'));
  return { dir, config };
}

async function connected(): Promise<AwsSecretsManagerProvider> {
  const e = await startEmulator();
  const provider = new AwsSecretsManagerProvider({
    region: e.region,
    endpoint: e.endpoint,
    retry: { maxRetries: 0 },
  });
  cleanups.push(() => provider.close());
  return provider;
}

/** The chain's credentials sign a real call the emulator verifies (key, secret and session token). */
async function worksEndToEnd(): Promise<void> {
  const provider = await connected();
  await provider.connect();
  assert.equal(await provider.exists('nebula-bounds-probe'), false);
}

function assertNoSecrets(error: StorageError): void {
  const shown = [error.message, inspect(error), JSON.stringify(error), inspect(error, { depth: 8 })];
  for (const [name, value] of Object.entries(SENTINEL)) {
    for (const text of shown) assert.ok(!text.includes(value), `${name} leaked: ${text}`);
  }
}

/** connect() fails with the cut: `Unavailable`, not retryable, the bound in details, promptly and early. */
async function assertCut(server: Endpoint, source: RegExp): Promise<StorageError> {
  const provider = await connected();
  const started = Date.now();
  let caught: StorageError | undefined;
  await assert.rejects(provider.connect(), (e: unknown) => {
    assert.ok(e instanceof StorageError, inspect(e));
    caught = e;
    assert.equal(e.code, 'Unavailable', e.message);
    assert.equal(e.retryable, false, e.message);
    assert.equal(e.details['limitBytes'], responseBodyLimit(provider.capabilities.maxCredentialSize));
    assert.match(e.message, source);
    assert.match(String(e.details['source']), source);
    return true;
  });
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  assert.ok(server.sent < HUGE / 2, `the client read on: ${server.sent} of ${HUGE} bytes sent`);
  assertNoSecrets(caught!);
  return caught!;
}

const credentialsPrefix = `{"AccessKeyId":"ASIANEBULATEST00001","SecretAccessKey":"${SENTINEL.secretAccessKey}","Token":"${SENTINEL.sessionToken}","Expiration":"2099-01-01T00:00:00Z"`;

describe('AWS container credentials read through the response bound', () => {
  it('a full URI on loopback with AWS_CONTAINER_AUTHORIZATION_TOKEN signs calls end to end', async () => {
    const server = await endpoint((req) =>
      req.headers.authorization === SENTINEL.authToken
        ? { body: credentialDocument() }
        : { status: 401, body: '{"Code":"Unauthorized"}' },
    );
    await withEnv(
      awsChainEnv(scratch(), {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${server.url}/v2/credentials/abc`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: SENTINEL.authToken,
      }),
      worksEndToEnd,
    );
    assert.equal(server.requests[0]?.path, '/v2/credentials/abc');
  });

  it('AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE is read and sent (and wins over the variable)', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'token'), SENTINEL.authToken);
    const server = await endpoint((req) =>
      req.headers.authorization === SENTINEL.authToken
        ? { body: credentialDocument() }
        : { status: 401, body: '{}' },
    );
    const warn = console.warn;
    console.warn = () => {};
    try {
      await withEnv(
        awsChainEnv(dir, {
          AWS_CONTAINER_CREDENTIALS_FULL_URI: `${server.url}/creds`,
          AWS_CONTAINER_AUTHORIZATION_TOKEN: 'wrong-token',
          AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: join(dir, 'token'),
        }),
        worksEndToEnd,
      );
    } finally {
      console.warn = warn;
    }
  });

  it('an endless answer fails connect() with Unavailable at the bound, once, leaking nothing', async () => {
    const server = await endpoint(() => 'endless', credentialsPrefix);
    await withEnv(
      awsChainEnv(scratch(), {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${server.url}/creds`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: SENTINEL.authToken,
      }),
      () => assertCut(server, /container credentials endpoint/),
    );
    // Neither fromHttp's retries nor the legacy container provider asked again for the same answer.
    assert.equal(server.requests.length, 1);
  });

  it('an answer that is not JSON does not quote its body (credentials) in the error', async () => {
    const server = await endpoint(() => ({ body: `${credentialsPrefix} not json` }));
    await withEnv(
      awsChainEnv(scratch(), {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${server.url}/creds`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: SENTINEL.authToken,
        AWS_EC2_METADATA_DISABLED: 'true',
      }),
      async () => {
        const provider = await connected();
        await assert.rejects(provider.connect(), (e: unknown) => {
          assert.ok(e instanceof StorageError, inspect(e));
          assert.equal(e.code, 'AuthenticationFailed', e.message);
          assertNoSecrets(e);
          return true;
        });
      },
    );
  });
});

describe('AWS EC2 instance metadata reads through the response bound', () => {
  const ROLE_PATH = '/latest/meta-data/iam/security-credentials/';
  const imds =
    (faults: { token?: 'endless' | number; role?: 'endless'; credentials?: 'endless' } = {}) =>
    (req: IncomingMessage) => {
      if (req.url === '/latest/api/token' && req.method === 'PUT') {
        if (faults.token === 'endless') return 'endless' as const;
        if (typeof faults.token === 'number') return { status: faults.token, body: '' };
        return { body: SENTINEL.imdsToken };
      }
      const v2 = req.headers['x-aws-ec2-metadata-token'] === SENTINEL.imdsToken;
      if (faults.token === undefined && !v2) return { status: 401, body: '' };
      if (req.url === ROLE_PATH) return faults.role ?? { body: 'nebula-role\n' };
      if (req.url === `${ROLE_PATH}nebula-role`) return faults.credentials ?? { body: credentialDocument() };
      return { status: 404, body: '' };
    };
  const env = (server: Endpoint, vars: Record<string, string | undefined> = {}) =>
    awsChainEnv(scratch(), {
      AWS_EC2_METADATA_DISABLED: undefined,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: server.url,
      ...vars,
    });

  it('IMDSv2 (token PUT, role GET, credentials GET) signs calls end to end', async () => {
    const server = await endpoint(imds());
    await withEnv(env(server), worksEndToEnd);
    assert.deepEqual(
      server.requests.map((r) => `${r.method} ${r.path}`),
      ['PUT /latest/api/token', `GET ${ROLE_PATH}`, `GET ${ROLE_PATH}nebula-role`],
    );
    assert.equal(server.requests[0]?.headers['x-aws-ec2-metadata-token-ttl-seconds'], '21600');
  });

  it('a token PUT answered 403 falls back to IMDSv1, unless AWS_EC2_METADATA_V1_DISABLED', async () => {
    const server = await endpoint(imds({ token: 403 }));
    await withEnv(env(server), worksEndToEnd);
    assert.equal(server.requests.at(-1)?.headers['x-aws-ec2-metadata-token'], undefined);
    const blocked = await endpoint(imds({ token: 403 }));
    await withEnv(env(blocked, { AWS_EC2_METADATA_V1_DISABLED: 'true' }), async () => {
      const provider = await connected();
      await assert.rejects(provider.connect(), (e: unknown) => {
        assert.ok(e instanceof StorageError, inspect(e));
        assert.equal(e.code, 'AuthenticationFailed', e.message);
        return true;
      });
    });
    assert.deepEqual(
      blocked.requests.map((r) => r.method),
      ['PUT'],
    );
  });

  for (const step of ['token', 'role', 'credentials'] as const) {
    it(`an endless ${step} answer fails connect() with Unavailable at the bound, leaking nothing`, async () => {
      const server = await endpoint(
        imds({ [step]: 'endless' }),
        step === 'credentials' ? credentialsPrefix : '',
      );
      await withEnv(env(server), () => assertCut(server, /instance metadata/));
      // A cut token answer is not a missing IMDSv2: no IMDSv1 request follows it.
      assert.equal(server.requests.length, { token: 1, role: 2, credentials: 3 }[step]);
    });
  }
});

describe('AWS SSO (sso_session and legacy profiles) reads through the response bound', () => {
  const START_URL = 'https://nebula.awsapps.com/start';
  /** A config file with both profile styles and the cached tokens `aws sso login` would leave. */
  function ssoHome(portal: Endpoint, profile: 'modern' | 'legacy'): Record<string, string | undefined> {
    const { dir, config } = withConfig([
      '[profile modern]',
      'sso_session = nebula',
      'sso_account_id = 123456789012',
      'sso_role_name = Reader',
      '',
      '[sso-session nebula]',
      'sso_region = us-east-1',
      `sso_start_url = ${START_URL}`,
      '',
      '[profile legacy]',
      `sso_start_url = ${START_URL}`,
      'sso_region = us-east-1',
      'sso_account_id = 123456789012',
      'sso_role_name = Reader',
    ]);
    const cache = join(dir, '.aws', 'sso', 'cache');
    mkdirSync(cache, { recursive: true });
    const token = JSON.stringify({
      accessToken: SENTINEL.ssoToken,
      expiresAt: expiry(),
      region: 'us-east-1',
      startUrl: START_URL,
    });
    for (const id of ['nebula', START_URL]) {
      writeFileSync(join(cache, `${createHash('sha1').update(id).digest('hex')}.json`), token);
    }
    return awsChainEnv(dir, {
      AWS_CONFIG_FILE: config,
      AWS_PROFILE: profile,
      AWS_ENDPOINT_URL_SSO: portal.url,
    });
  }
  const portal = (endless: boolean) => (req: IncomingMessage) => {
    if (req.headers['x-amz-sso_bearer_token'] !== SENTINEL.ssoToken) return { status: 401, body: '{}' };
    if (endless) return 'endless' as const;
    return {
      body: JSON.stringify({
        roleCredentials: {
          accessKeyId: 'ASIANEBULATEST00001',
          secretAccessKey: SENTINEL.secretAccessKey,
          sessionToken: SENTINEL.sessionToken,
          expiration: Date.now() + 3600_000,
        },
      }),
    };
  };

  for (const profile of ['modern', 'legacy'] as const) {
    it(`${profile} profile: GetRoleCredentials signs calls end to end`, async () => {
      const server = await endpoint(portal(false));
      await withEnv(ssoHome(server, profile), worksEndToEnd);
      assert.match(server.requests[0]?.path ?? '', /^\/federation\/credentials\?/);
    });

    it(`${profile} profile: an endless GetRoleCredentials answer fails connect() with Unavailable at the bound`, async () => {
      const server = await endpoint(portal(true), '{"roleCredentials":');
      await withEnv(ssoHome(server, profile), () => assertCut(server, /SSO/));
    });
  }
});

describe('AWS profiles with credential_source read the container and IMDS answers through the bound', () => {
  const ROLE_PATH = '/latest/meta-data/iam/security-credentials/';
  const baseDocument = JSON.stringify({
    AccessKeyId: 'ASIABASEINSTANCE0001',
    SecretAccessKey: 'base-secret',
    Token: 'base-token',
    Expiration: expiry(),
  });
  const instance = (endless: boolean) => (req: IncomingMessage) => {
    if (req.url === '/latest/api/token') return { body: SENTINEL.imdsToken };
    if (req.url === ROLE_PATH) return { body: 'base-role' };
    if (req.url === `${ROLE_PATH}base-role`) return endless ? ('endless' as const) : { body: baseDocument };
    return { status: 404, body: '' };
  };
  /** STS AssumeRole, answering with the emulator's credentials. */
  const sts = () =>
    endpoint(() => ({
      body: `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIANEBULATEST00001</AccessKeyId><SecretAccessKey>${SENTINEL.secretAccessKey}</SecretAccessKey><SessionToken>${SENTINEL.sessionToken}</SessionToken><Expiration>${expiry()}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/app/nebula</Arn><AssumedRoleId>AROANEBULA:nebula</AssumedRoleId></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>`,
    }));
  function profiles(
    source: 'Ec2InstanceMetadata' | 'EcsContainer',
    vars: Record<string, string | undefined>,
  ) {
    const { dir, config } = withConfig([
      '[profile app]',
      'role_arn = arn:aws:iam::123456789012:role/app',
      'role_session_name = nebula',
      'source_profile = base',
      'region = us-east-1',
      '',
      '[profile base]',
      `credential_source = ${source}`,
    ]);
    return awsChainEnv(dir, { AWS_CONFIG_FILE: config, AWS_PROFILE: 'app', ...vars });
  }

  it('Ec2InstanceMetadata through a source_profile: IMDS credentials assume the role, end to end', async () => {
    const [imds, stsServer] = [await endpoint(instance(false)), await sts()];
    await withEnv(
      profiles('Ec2InstanceMetadata', {
        AWS_EC2_METADATA_DISABLED: undefined,
        AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url,
        AWS_ENDPOINT_URL_STS: stsServer.url,
      }),
      worksEndToEnd,
    );
    assert.equal(imds.requests.length, 3);
    assert.equal(stsServer.requests.length, 1);
    assert.match(String(stsServer.requests[0]?.headers.authorization), /Credential=ASIABASEINSTANCE0001\//);
  });

  it('Ec2InstanceMetadata: an endless credentials answer fails connect() with Unavailable before STS', async () => {
    const [imds, stsServer] = [await endpoint(instance(true), credentialsPrefix), await sts()];
    await withEnv(
      profiles('Ec2InstanceMetadata', {
        AWS_EC2_METADATA_DISABLED: undefined,
        AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url,
        AWS_ENDPOINT_URL_STS: stsServer.url,
      }),
      () => assertCut(imds, /instance metadata/),
    );
    assert.equal(stsServer.requests.length, 0);
  });

  it('EcsContainer: an endless container answer fails connect() with Unavailable before STS', async () => {
    const [container, stsServer] = [await endpoint(() => 'endless', credentialsPrefix), await sts()];
    await withEnv(
      profiles('EcsContainer', {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${container.url}/creds`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: SENTINEL.authToken,
        AWS_ENDPOINT_URL_STS: stsServer.url,
      }),
      () => assertCut(container, /container credentials endpoint/),
    );
    assert.equal(stsServer.requests.length, 0);
  });
});
