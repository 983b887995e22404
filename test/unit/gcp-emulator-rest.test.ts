import assert from 'node:assert/strict';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { crc32c } from '../../src/core/crc32c.js';
import { GcpSecretManagerEmulator } from '../../src/testing/emulators/gcp.js';
import { compileFilter } from '../../src/testing/emulators/gcp-filter.js';

// REST calls written from the public API reference (https://cloud.google.com/secret-manager/docs/reference/rest)
// and the OAuth 2.0 service-account flow (RFC 7523), with node:https and nothing from Google.

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; ca?: string } = {},
): Promise<Reply> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      { method: init.method ?? 'GET', headers: init.headers ?? {}, ...(init.ca ? { ca: init.ca } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // not JSON (HTML 404 pages, metadata text)
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

const b64url = (v: string | Buffer) => Buffer.from(v).toString('base64url');

function signJwt(
  privateKeyPem: string,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const head = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', ...header }))}.${b64url(JSON.stringify(claims))}`;
  return `${head}.${createSign('RSA-SHA256').update(head).sign(privateKeyPem, 'base64url')}`;
}

const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
type ErrorBody = {
  error: { code: number; message: string; status: string; details?: Record<string, unknown>[] };
};

describe('GCP Secret Manager emulator: the REST API and OAuth as documented', () => {
  const clock = new ManualClock(Date.now());
  let e: GcpSecretManagerEmulator;
  let key: Record<string, string>;
  let token = '';
  const api = (
    path: string,
    init: { method?: string; body?: unknown; auth?: string | false; headers?: Record<string, string> } = {},
  ) =>
    call(`${e.restEndpoint}/v1/${path}`, {
      method: init.method ?? 'GET',
      ca: e.ca.caCertPem,
      headers: {
        'content-type': 'application/json',
        ...(init.auth === false ? {} : { authorization: `Bearer ${init.auth ?? token}` }),
        ...init.headers,
      },
      ...(init.body === undefined
        ? {}
        : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
    });
  const grant = (assertion: string, grantType = 'urn:ietf:params:oauth:grant-type:jwt-bearer') =>
    call(key['token_uri']!, {
      method: 'POST',
      ca: e.ca.caCertPem,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: grantType, assertion }).toString(),
    });
  const claims = (extra: Record<string, unknown> = {}) => {
    const iat = Math.floor(clock.now() / 1000);
    return { iss: key['client_email'], scope: SCOPE, aud: key['token_uri'], iat, exp: iat + 3600, ...extra };
  };

  before(async () => {
    e = await new GcpSecretManagerEmulator({
      clock,
      projectId: 'docs-project',
      defaultPageSize: 100,
    }).start();
    key = JSON.parse(readFileSync(e.credentialsFile, 'utf8')) as Record<string, string>;
  });
  after(() => e?.stop());

  it('exchanges a signed JWT at the key file token_uri (RFC 7523) for a bearer token', async () => {
    assert.equal(key['token_uri'], `${e.restEndpoint}/token`);
    assert.equal(key['project_id'], 'docs-project');
    const reply = await grant(signJwt(key['private_key']!, claims(), { kid: key['private_key_id'] }));
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json['token_type'], 'Bearer');
    assert.equal(reply.json['expires_in'], 3599);
    token = String(reply.json['access_token']);
    assert.match(token, /^ya29\./);
    // Google's own token URL is an accepted audience too: google-auth-library signs for it.
    const google = await grant(
      signJwt(key['private_key']!, claims({ aud: 'https://oauth2.googleapis.com/token' })),
    );
    assert.equal(google.status, 200);
  });

  it('refuses bad assertions with OAuth error bodies', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const cases: [string, string, string, RegExp][] = [
      ['wrong key', signJwt(other, claims()), 'invalid_grant', /Invalid JWT Signature/],
      [
        'wrong kid',
        signJwt(key['private_key']!, claims(), { kid: 'nope' }),
        'invalid_grant',
        /Invalid JWT Signature/,
      ],
      [
        'too long',
        signJwt(key['private_key']!, claims({ exp: Math.floor(clock.now() / 1000) + 3601 })),
        'invalid_grant',
        /short-lived/,
      ],
      [
        'expired',
        signJwt(
          key['private_key']!,
          claims({ iat: Math.floor(clock.now() / 1000) - 4000, exp: Math.floor(clock.now() / 1000) - 400 }),
        ),
        'invalid_grant',
        /short-lived/,
      ],
      [
        'audience',
        signJwt(key['private_key']!, claims({ aud: 'https://example.com/token' })),
        'invalid_grant',
        /audience/,
      ],
      [
        'account',
        signJwt(key['private_key']!, claims({ iss: 'ghost@docs-project.iam.gserviceaccount.com' })),
        'invalid_grant',
        /account not found/,
      ],
      ['no scope', signJwt(key['private_key']!, claims({ scope: undefined })), 'invalid_scope', /scope/],
    ];
    for (const [label, assertion, error, description] of cases) {
      const reply = await grant(assertion);
      assert.equal(reply.status, 400, label);
      assert.equal(reply.json['error'], error, label);
      assert.match(String(reply.json['error_description']), description, label);
    }
    const badGrant = await grant('x.y.z', 'client_credentials');
    assert.equal(badGrant.json['error'], 'unsupported_grant_type');
    const get = await call(key['token_uri']!, { ca: e.ca.caCertPem });
    assert.equal(get.status, 405);
  });

  it('creates, adds a version (base64, dataCrc32c as a string) and accesses it', async () => {
    const created = await api('projects/docs-project/secrets?secretId=db-password', {
      method: 'POST',
      body: { replication: { automatic: {} }, labels: { env: 'dev' } },
    });
    assert.equal(created.status, 200, created.text);
    assert.equal(created.json['name'], `projects/${e.projectNumber}/secrets/db-password`);
    assert.match(String(created.json['createTime']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.match(String(created.json['etag']), /^"[0-9a-f]+"$/);
    const data = Buffer.from('s3cr3t-value');
    const added = await api('projects/docs-project/secrets/db-password:addVersion', {
      method: 'POST',
      body: { payload: { data: data.toString('base64'), dataCrc32c: String(crc32c(data)) } },
    });
    assert.equal(added.status, 200, added.text);
    assert.equal(added.json['state'], 'ENABLED');
    assert.equal(added.json['clientSpecifiedPayloadChecksum'], true);
    const accessed = await api('projects/docs-project/secrets/db-password/versions/latest:access');
    assert.equal(accessed.status, 200);
    assert.equal(accessed.json['name'], `projects/${e.projectNumber}/secrets/db-password/versions/1`);
    const payload = accessed.json['payload'] as { data: string; dataCrc32c: string };
    assert.equal(Buffer.from(payload.data, 'base64').toString(), 's3cr3t-value');
    assert.equal(typeof payload.dataCrc32c, 'string', 'int64 is a JSON string');
    assert.equal(payload.dataCrc32c, String(crc32c(data)));
    // proto3 JSON also accepts the proto field names
    const snake = await api('projects/docs-project/secrets/db-password:addVersion', {
      method: 'POST',
      body: { payload: { data: data.toString('base64'), data_crc32c: crc32c(data) } },
    });
    assert.equal(snake.status, 200, snake.text);
    // the enum encoding google-gax asks for
    const numeric = await api(
      'projects/docs-project/secrets/db-password/versions/2?$alt=json%3Benum-encoding=int',
    );
    assert.equal(numeric.json['state'], 1);
    const viaQuery = await call(
      `${e.restEndpoint}/v1/projects/docs-project/secrets/db-password?access_token=${token}`,
      { ca: e.ca.caCertPem },
    );
    assert.equal(viaQuery.status, 200);
  });

  it('patches with updateMask, deletes with an etag, and gives Google error bodies', async () => {
    await api('projects/docs-project/secrets?secretId=patchme', {
      method: 'POST',
      body: { replication: { automatic: {} } },
    });
    const patched = await api('projects/docs-project/secrets/patchme?updateMask=labels,annotations', {
      method: 'PATCH',
      body: { labels: { owner: 'team-a' }, annotations: { note: 'any text / at all' } },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(patched.json['labels'], { owner: 'team-a' });
    const camel = await api('projects/docs-project/secrets/patchme?updateMask=versionDestroyTtl', {
      method: 'PATCH',
      body: { versionDestroyTtl: '86400s' },
    });
    assert.equal(camel.json['versionDestroyTtl'], '86400s');
    const stale = await api(`projects/docs-project/secrets/patchme?etag=${encodeURIComponent('"0"')}`, {
      method: 'DELETE',
    });
    assert.equal(stale.status, 400);
    assert.equal((stale.json as ErrorBody).error.status, 'FAILED_PRECONDITION');
    const etag = String(camel.json['etag']);
    const deleted = await api(`projects/docs-project/secrets/patchme?etag=${encodeURIComponent(etag)}`, {
      method: 'DELETE',
    });
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.json, {});
    const missing = await api('projects/docs-project/secrets/patchme');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json, {
      error: {
        code: 404,
        message: `Secret [projects/${e.projectNumber}/secrets/patchme] not found.`,
        status: 'NOT_FOUND',
      },
    });
    assert.match(String(missing.headers['content-type']), /application\/json/);
  });

  it('pages with pageSize/pageToken/nextPageToken and filters on labels', async () => {
    for (const [id, tier] of [
      ['p-a', 'gold'],
      ['p-b', 'silver'],
      ['p-c', 'gold'],
      ['p-d', 'gold'],
      ['p-e', 'bronze'],
    ]) {
      await api(`projects/docs-project/secrets?secretId=${id}`, {
        method: 'POST',
        body: { replication: { automatic: {} }, labels: { tier: tier!, paged: 'true' } },
      });
    }
    const seen: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await api(
        `projects/docs-project/secrets?pageSize=2&filter=${encodeURIComponent('labels.paged=true')}${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ''}`,
      );
      assert.equal(page.status, 200, page.text);
      assert.equal(page.json['totalSize'], 5);
      seen.push(...(page.json['secrets'] as { name: string }[]).map((s) => s.name.split('/').pop()!));
      pageToken = String(page.json['nextPageToken'] ?? '');
      pages++;
    } while (pageToken);
    assert.equal(pages, 3);
    assert.deepEqual(seen, ['p-a', 'p-b', 'p-c', 'p-d', 'p-e'], 'sorted by name');
    const gold = await api(
      `projects/docs-project/secrets?filter=${encodeURIComponent('labels.tier=gold AND labels.paged:*')}`,
    );
    assert.deepEqual(
      (gold.json['secrets'] as { name: string }[]).map((s) => s.name.split('/').pop()),
      ['p-a', 'p-c', 'p-d'],
    );
    const quoted = await api(
      `projects/docs-project/secrets?filter=${encodeURIComponent('labels.tier="silver"')}`,
    );
    assert.equal((quoted.json['secrets'] as unknown[]).length, 1);
    const recent = await api(
      `projects/docs-project/secrets?filter=${encodeURIComponent(`create_time>${new Date(clock.now() - 60_000).toISOString()} AND name:p-`)}`,
    );
    assert.equal((recent.json['secrets'] as unknown[]).length, 5);
    const none = await api(
      `projects/docs-project/secrets?filter=${encodeURIComponent('labels.tier=platinum')}`,
    );
    assert.equal(none.json['secrets'], undefined, 'empty lists are left out, as proto3 JSON does');
  });

  it('answers auth, permission, quota and availability errors with status, details and headers', async () => {
    const noAuth = await api('projects/docs-project/secrets', { auth: false });
    assert.equal(noAuth.status, 401);
    assert.equal(noAuth.headers['www-authenticate'], 'Bearer realm="https://accounts.google.com/"');
    const body = noAuth.json as ErrorBody;
    assert.equal(body.error.status, 'UNAUTHENTICATED');
    assert.deepEqual(body.error.details?.[0], {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'CREDENTIALS_MISSING',
      domain: 'googleapis.com',
      metadata: {
        method: 'google.cloud.secretmanager.v1.SecretManagerService.ListSecrets',
        service: 'secretmanager.googleapis.com',
      },
    });
    const bogus = await api('projects/docs-project/secrets', { auth: 'ya29.bogus' });
    assert.equal(bogus.status, 401);
    assert.match(String(bogus.headers['www-authenticate']), /error="invalid_token"/);

    e.iam.revoke(e.serviceAccount.email, 'secretmanager.secrets.list');
    const denied = await api('projects/docs-project/secrets');
    e.iam.grant(e.serviceAccount.email, 'secretmanager.secrets.list');
    assert.equal(denied.status, 403);
    const deniedBody = denied.json as ErrorBody;
    assert.equal(deniedBody.error.status, 'PERMISSION_DENIED');
    assert.equal(
      deniedBody.error.message,
      "Permission 'secretmanager.secrets.list' denied for resource 'projects/docs-project' (or it may not exist).",
    );
    assert.deepEqual((deniedBody.error.details![0] as { metadata: unknown }).metadata, {
      permission: 'secretmanager.secrets.list',
      resource: 'projects/docs-project',
    });

    e.throttle(1, { transport: 'rest', retryAfterSeconds: 3 });
    const limited = await api('projects/docs-project/secrets');
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '3');
    const limitedBody = limited.json as ErrorBody;
    assert.equal(limitedBody.error.status, 'RESOURCE_EXHAUSTED');
    assert.deepEqual(
      limitedBody.error.details?.map((d) => d['@type']),
      [
        'type.googleapis.com/google.rpc.ErrorInfo',
        'type.googleapis.com/google.rpc.Help',
        'type.googleapis.com/google.rpc.RetryInfo',
      ],
    );
    assert.equal(limitedBody.error.details?.[2]?.['retryDelay'], '3s');

    e.fail('unavailable', { transport: 'rest' });
    const down = await api('projects/docs-project/secrets');
    assert.equal(down.status, 503);
    assert.equal((down.json as ErrorBody).error.status, 'UNAVAILABLE');
    // A raw fault with a body of the test's own is sent as it is.
    e.faults.add({
      action: {
        kind: 'status',
        status: 503,
        body: 'upstream connect error',
        headers: { 'retry-after': '1' },
      },
    });
    const raw = await api('projects/docs-project/secrets');
    assert.equal(raw.status, 503);
    assert.equal(raw.text, 'upstream connect error');
    assert.equal(e.faults.pending, 0);
  });

  it('refuses malformed requests: unknown fields and parameters, bad JSON, bad base64, bad times', async () => {
    const cases: [string, { method?: string; body?: unknown }, RegExp][] = [
      [
        'projects/docs-project/secrets?secretId=x1',
        { method: 'POST', body: { replication: { automatic: {} }, colour: 'red' } },
        /Unknown name "colour"/,
      ],
      [
        'projects/docs-project/secrets?secretId=x2&colour=red',
        { method: 'POST', body: { replication: { automatic: {} } } },
        /Cannot bind query parameter/,
      ],
      [
        'projects/docs-project/secrets?secretId=x3',
        { method: 'POST', body: '{"replication":' },
        /Invalid JSON payload/,
      ],
      [
        'projects/docs-project/secrets?secretId=x4',
        { method: 'POST', body: { replication: { automatic: {} }, expireTime: 'tomorrow' } },
        /timestamp/i,
      ],
      [
        'projects/docs-project/secrets?secretId=x5',
        { method: 'POST', body: { replication: { automatic: {} }, ttl: 60 } },
        /duration/i,
      ],
      [
        'projects/docs-project/secrets/db-password:addVersion',
        { method: 'POST', body: { payload: { data: 'not base64!' } } },
        /Base64/,
      ],
      ['projects/docs-project/secrets?pageSize=ten', {}, /TYPE_INT32/],
    ];
    for (const [path, init, message] of cases) {
      const reply = await api(path, init);
      assert.equal(reply.status, 400, `${path}: ${reply.text}`);
      assert.equal((reply.json as ErrorBody).error.status, 'INVALID_ARGUMENT');
      assert.match((reply.json as ErrorBody).error.message, message);
    }
    const html = await api('projects/docs-project/widgets');
    assert.equal(html.status, 404);
    assert.match(String(html.headers['content-type']), /text\/html/);
    assert.match(html.text, /was not found on this server/);
  });

  it('disables a version: access is FAILED_PRECONDITION (HTTP 400), and the body names the state', async () => {
    const disabled = await api('projects/docs-project/secrets/db-password/versions/1:disable', {
      method: 'POST',
      body: {},
    });
    assert.equal(disabled.status, 200);
    assert.equal(disabled.json['state'], 'DISABLED');
    const refused = await api('projects/docs-project/secrets/db-password/versions/1:access');
    assert.equal(refused.status, 400);
    assert.equal((refused.json as ErrorBody).error.status, 'FAILED_PRECONDITION');
    assert.match((refused.json as ErrorBody).error.message, /is in DISABLED state/);
    const enabled = await api('projects/docs-project/secrets/db-password/versions/1:enable', {
      method: 'POST',
      body: { etag: disabled.json['etag'] },
    });
    assert.equal(enabled.status, 200);
    const list = await api('projects/docs-project/secrets/db-password/versions?filter=state:ENABLED');
    assert.equal(list.json['totalSize'], 2);
  });

  it('expires access tokens on the emulator clock', async () => {
    assert.equal((await api('projects/docs-project/secrets')).status, 200);
    await clock.advance(3600_000);
    const expired = await api('projects/docs-project/secrets');
    assert.equal(expired.status, 401);
    assert.equal(
      ((expired.json as ErrorBody).error.details![0] as { reason: string }).reason,
      'ACCESS_TOKEN_EXPIRED',
    );
    const renewed = await grant(signJwt(key['private_key']!, claims()));
    token = String(renewed.json['access_token']);
    assert.equal((await api('projects/docs-project/secrets')).status, 200);
  });

  it('serves the metadata server only with Metadata-Flavor: Google, and its tokens work on the API', async () => {
    const base = `http://${e.metadataHost}/computeMetadata/v1`;
    const flavor = { 'Metadata-Flavor': 'Google' };
    const refused = await call(`${base}/instance/service-accounts/default/token`);
    assert.equal(refused.status, 403);
    const forwarded = await call(`${base}/project/project-id`, {
      headers: { ...flavor, 'X-Forwarded-For': '10.0.0.1' },
    });
    assert.equal(forwarded.status, 403);
    const project = await call(`${base}/project/project-id`, { headers: flavor });
    assert.equal(project.text, 'docs-project');
    assert.equal(project.headers['metadata-flavor'], 'Google');
    assert.equal(
      (await call(`${base}/project/numeric-project-id`, { headers: flavor })).text,
      e.projectNumber,
    );
    const account = await call(`${base}/instance/service-accounts/default/?recursive=true`, {
      headers: flavor,
    });
    assert.equal(account.json['email'], e.computeServiceAccount.email);
    const t1 = await call(`${base}/instance/service-accounts/default/token`, { headers: flavor });
    assert.equal(t1.json['token_type'], 'Bearer');
    const t2 = await call(`${base}/instance/service-accounts/default/token`, { headers: flavor });
    assert.equal(
      t2.json['access_token'],
      t1.json['access_token'],
      'the metadata server hands out its cached token',
    );
    const listed = await api('projects/docs-project/secrets', { auth: String(t1.json['access_token']) });
    assert.equal(listed.status, 200);
    await clock.advance(3400_000);
    const t3 = await call(`${base}/instance/service-accounts/default/token`, { headers: flavor });
    assert.notEqual(
      t3.json['access_token'],
      t1.json['access_token'],
      'a fresh token once less than 5 minutes remain',
    );
    const narrow = await call(
      `${base}/instance/service-accounts/default/token?scopes=https://www.googleapis.com/auth/devstorage.read_only`,
      { headers: flavor },
    );
    const insufficient = await api('projects/docs-project/secrets', {
      auth: String(narrow.json['access_token']),
    });
    assert.equal(insufficient.status, 403);
    assert.match(String(insufficient.headers['www-authenticate']), /insufficient_scope/);
    assert.equal((await call(`${base}/instance/attributes/nothing`, { headers: flavor })).status, 404);
  });

  it('resets a token request through the raw HTTPS server faults', async () => {
    e.rest.faults.add({ action: { kind: 'reset' }, match: (r) => r.path === '/token' });
    await assert.rejects(grant(signJwt(key['private_key']!, claims())), /socket hang up|ECONNRESET/);
    const ok = await grant(signJwt(key['private_key']!, claims()));
    assert.equal(ok.status, 200);
  });
});

describe('GCP emulator helpers', () => {
  it('computes CRC-32C (Castagnoli) check values', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
    assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
  });

  it('parses the list filter language: OR binds tighter than AND, NOT/-, parentheses, presence, wildcards', () => {
    const item = (fields: Record<string, string | undefined>) => (f: string) =>
      f in fields ? fields[f] : f.startsWith('labels.') ? undefined : null;
    const a = item({ name: 'projects/1/secrets/api-key', 'labels.env': 'prod', 'labels.team': 'x' });
    assert.equal(compileFilter('labels.env=dev OR labels.env=prod AND labels.team=x')(a), true);
    assert.equal(compileFilter('labels.env=dev OR labels.env=prod labels.team=y')(a), false);
    assert.equal(compileFilter('NOT labels.env=prod')(a), false);
    assert.equal(compileFilter('-(labels.env=dev)')(a), true);
    assert.equal(compileFilter('labels.missing:*')(a), false);
    assert.equal(compileFilter('labels.env:*')(a), true);
    assert.equal(compileFilter('name:api*key')(a), true);
    assert.equal(compileFilter('api')(a), true, 'a bare value searches the name');
    assert.throws(() => compileFilter('colour=red')(a), /unknown field/);
    assert.throws(() => compileFilter('labels.env="unterminated')(a), /unterminated/);
  });
});
