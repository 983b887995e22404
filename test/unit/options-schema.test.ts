import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { StorageError } from '../../src/core/errors.js';
import { defineProviderOptions, type OptionsOf } from '../../src/core/options.js';
import { option, suggest } from '../../src/core/options-schema.js';
import { SecretString } from '../../src/core/secret-string.js';
import { AZURE_KEY_VAULT_OPTIONS } from '../../src/providers/azure-key-vault-options.js';
import { HASHICORP_VAULT_OPTIONS } from '../../src/providers/hashicorp-vault-options.js';
import { PROVIDER_REGISTRY } from '../../src/providers/registry.js';
import { createTestCertificateAuthority } from '../../src/testing/emulator-kit/tls.js';

const CA = createTestCertificateAuthority();

function invalid(fn: () => unknown): StorageError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof StorageError, inspect(error));
    assert.equal(error.code, 'InvalidConfig');
    return error;
  }
  assert.fail('expected InvalidConfig');
}

const issues = (error: StorageError) =>
  Object.fromEntries((error.details.issues ?? []).map((i) => [i.path, i.message]));

const EXAMPLE = defineProviderOptions('example', {
  url: option.string({ doc: 'service URL', env: 'EXAMPLE_URL', required: 'the service URL' }),
  port: option.number({ doc: 'port', integer: true, min: 1, max: 65535, env: 'EXAMPLE_PORT', default: 443 }),
  token: option.secret({ doc: 'API token', env: 'EXAMPLE_TOKEN' }),
  mode: option.enum(['fast', 'safe'], { doc: 'mode', default: 'safe' }),
  tls: option.object({
    caFile: option.path({ doc: 'CA file', env: 'EXAMPLE_CA', envUnless: ['ca'] }),
    ca: option.string({ doc: 'CA PEM' }),
  }),
});
type ExampleOptions = OptionsOf<typeof EXAMPLE>;

describe('options schema: validation', () => {
  it('every provider rejects unknown nested keys of the common options, with did-you-mean, all at once', () => {
    for (const { name, options } of PROVIDER_REGISTRY) {
      const error = invalid(() =>
        options.resolve({ retry: { retries: 3 }, timeouts: { read: 10 }, retyr: {}, timeouts2: 1 }),
      );
      const found = issues(error);
      assert.match(found['retry.retries'] ?? '', /unknown option \(did you mean "maxRetries"\?\)/, name);
      assert.match(found['timeouts.read'] ?? '', /unknown option \(did you mean "readMs"\?\)/, name);
      assert.match(found['retyr'] ?? '', /did you mean "retry"/, name);
      assert.match(found['timeouts2'] ?? '', /did you mean "timeouts"/, name);
      assert.equal(error.provider, name);
      assert.match(error.message, new RegExp(`^invalid options for ${name}: `));
    }
  });

  it('reports type errors, bad nested values, unknown keys and missing required ones in one error', () => {
    const error = invalid(() =>
      EXAMPLE.resolve(
        { port: 0, mode: 'slow', tls: { caFile: 42, cafile: 'x' }, retry: { maxRetries: 'x' }, logger: {} },
        { env: {} },
      ),
    );
    assert.deepEqual(Object.keys(issues(error)).sort(), [
      'logger',
      'mode',
      'port',
      'retry.maxRetries',
      'tls.caFile',
      'tls.cafile',
      'url',
    ]);
    assert.match(issues(error)['url']!, /is required \(the service URL\); or set EXAMPLE_URL/);
    assert.match(issues(error)['tls.cafile']!, /did you mean "caFile"/);
  });

  it('checks across fields after each was resolved (retry.maxDelayMs below baseDelayMs)', () => {
    const error = invalid(() => EXAMPLE.resolve({ url: 'u', retry: { baseDelayMs: 500, maxDelayMs: 100 } }));
    assert.deepEqual(Object.keys(issues(error)), ['retry.maxDelayMs']);
  });

  it('never quotes a text value it refuses (a secret typed in the wrong option stays out)', () => {
    const sentinel = 'SENTINEL-a81c-never-in-errors';
    const error = invalid(() =>
      EXAMPLE.resolve({ token: 42, url: 7, port: sentinel, mode: sentinel, tls: sentinel }, { env: {} }),
    );
    assert.deepEqual(Object.keys(issues(error)).sort(), ['mode', 'port', 'tls', 'token', 'url']);
    assert.ok(!error.message.includes(sentinel), error.message);
    assert.ok(!JSON.stringify(error).includes(sentinel));
    const tagged = invalid(() =>
      AZURE_KEY_VAULT_OPTIONS.resolve({
        vaultUrl: 'https://v.vault.azure.net',
        credential: { type: sentinel },
      }),
    );
    assert.ok(!tagged.message.includes(sentinel), tagged.message);
    const fromEnv = invalid(() => EXAMPLE.resolve({ url: 'u' }, { env: { EXAMPLE_PORT: 'not-a-port' } }));
    assert.match(issues(fromEnv)['port']!, /^\(from EXAMPLE_PORT\) must be a whole number from 1 to 65535/);
  });

  it('suggests near names: a small edit, or one name containing the other', () => {
    assert.equal(suggest('retries', ['maxRetries', 'baseDelayMs']), 'maxRetries');
    assert.equal(suggest('read', ['readMs', 'writeMs', 'connectMs']), 'readMs');
    assert.equal(suggest('adress', ['address', 'auth']), 'address');
    assert.equal(suggest('zzz', ['address', 'auth']), undefined);
  });
});

describe('options schema: sources', () => {
  it('applies the option, else the environment, else the default, and records each origin', () => {
    const { values, origins, secrets } = EXAMPLE.resolve(
      { url: 'https://given.example', tls: { ca: CA.caCertPem } },
      {
        env: {
          EXAMPLE_URL: 'https://env.example',
          EXAMPLE_PORT: '8443',
          EXAMPLE_TOKEN: 't0k',
          EXAMPLE_CA: '/ca',
        },
      },
    );
    assert.equal(values.url, 'https://given.example', 'an explicit option beats the environment');
    assert.equal(values.port, 8443);
    assert.equal(values.mode, 'safe');
    assert.equal(values.tls.caFile, undefined, 'EXAMPLE_CA does not apply when tls.ca is given');
    assert.equal(values.token?.expose(), 't0k');
    const byPath = Object.fromEntries(origins.map((o) => [o.path, o]));
    assert.deepEqual(byPath['url'], {
      path: 'url',
      source: 'option',
      secret: false,
      value: 'https://given.example',
    });
    assert.deepEqual(byPath['port'], {
      path: 'port',
      source: 'environment',
      from: 'EXAMPLE_PORT',
      secret: false,
      value: 8443,
    });
    assert.deepEqual(byPath['token'], {
      path: 'token',
      source: 'environment',
      from: 'EXAMPLE_TOKEN',
      secret: true,
    });
    assert.deepEqual(byPath['mode'], { path: 'mode', source: 'default', secret: false, value: 'safe' });
    assert.equal(byPath['retry.maxRetries']?.source, 'default');
    assert.equal(secrets.length, 1);
    for (const s of secrets) s.dispose();
  });

  it('reads the Vault CLI environment: VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT', () => {
    const env = {
      VAULT_ADDR: 'https://vault.example:8200',
      VAULT_TOKEN: 'hvs.from-env',
      VAULT_NAMESPACE: '/team-a/',
      VAULT_CACERT: '/etc/vault/ca.pem',
    };
    const { values, origins, secrets } = HASHICORP_VAULT_OPTIONS.resolve({}, { env });
    assert.equal(values.address.href, 'https://vault.example:8200/');
    assert.ok('token' in values.auth && values.auth.token.expose() === 'hvs.from-env');
    assert.equal(values.namespace, 'team-a');
    assert.equal(values.tls.caFile, '/etc/vault/ca.pem');
    const from = Object.fromEntries(origins.map((o) => [o.path, `${o.source}:${o.from ?? ''}`]));
    assert.deepEqual(
      [from['address'], from['auth.token'], from['namespace'], from['tls.caFile']],
      [
        'environment:VAULT_ADDR',
        'environment:VAULT_TOKEN',
        'environment:VAULT_NAMESPACE',
        'environment:VAULT_CACERT',
      ],
    );
    for (const s of secrets) s.dispose();
  });

  it('explicit Vault options beat the environment; without a token the vault CLI token file is the fallback', () => {
    const env = { VAULT_ADDR: 'https://env:8200', VAULT_TOKEN: 'hvs.env', VAULT_CACERT: '/env-ca.pem' };
    const explicit = HASHICORP_VAULT_OPTIONS.resolve(
      {
        address: 'https://given:8200',
        auth: { appRole: { roleId: 'r', secretId: 's' } },
        tls: { ca: CA.caCertPem },
      },
      { env },
    );
    assert.equal(explicit.values.address.host, 'given:8200');
    assert.ok('appRole' in explicit.values.auth);
    assert.equal(explicit.values.tls.caFile, undefined);
    for (const s of explicit.secrets) s.dispose();
    const fallback = HASHICORP_VAULT_OPTIONS.resolve({}, { env: { VAULT_ADDR: 'https://env:8200' } });
    assert.deepEqual(fallback.values.auth, { tokenFile: join(homedir(), '.vault-token') });
    const origin = fallback.origins.find((o) => o.path === 'auth.tokenFile');
    assert.deepEqual([origin?.source, origin?.from], ['file', '~/.vault-token']);
    const error = invalid(() => HASHICORP_VAULT_OPTIONS.resolve({}, { env: {} }));
    assert.match(issues(error)['address']!, /or set VAULT_ADDR/);
  });

  it('secrets are copies the caller never loses; a disposed SecretString is refused', () => {
    const mine = new SecretString('client-secret-value');
    const { values, secrets } = AZURE_KEY_VAULT_OPTIONS.resolve({
      vaultUrl: 'https://v.vault.azure.net',
      credential: { type: 'client-secret', tenantId: 't', clientId: 'c', clientSecret: mine },
    });
    const theirs = (values.credential as { clientSecret: SecretString }).clientSecret;
    assert.notEqual(theirs, mine);
    assert.deepEqual(secrets, [theirs]);
    theirs.dispose();
    assert.equal(mine.expose(), 'client-secret-value', "disposing the provider's copy leaves the caller's");
    mine.dispose();
    const error = invalid(() =>
      AZURE_KEY_VAULT_OPTIONS.resolve({
        vaultUrl: 'https://v.vault.azure.net',
        credential: { type: 'client-secret', tenantId: 't', clientId: 'c', clientSecret: mine },
      }),
    );
    assert.match(issues(error)['credential.clientSecret']!, /disposed/);
  });

  it('an invalid config disposes the copies it made before throwing', () => {
    const disposed: SecretString[] = [];
    const original = SecretString.prototype.dispose;
    SecretString.prototype.dispose = function (this: SecretString) {
      disposed.push(this);
      original.call(this);
    };
    try {
      invalid(() => EXAMPLE.resolve({ token: 'abc', port: -1 }, { env: {} }));
    } finally {
      SecretString.prototype.dispose = original;
    }
    assert.equal(disposed.length, 1);
  });
});

describe('options schema: paths, secrets and types', () => {
  it('marks path and secret options, nested and in variants', () => {
    const byName = Object.fromEntries(PROVIDER_REGISTRY.map((p) => [p.name, p.options]));
    assert.deepEqual(byName['local']!.pathOptions(), ['directory']);
    assert.deepEqual(byName['hashicorp-vault']!.pathOptions(), ['auth.tokenFile', 'tls.caFile']);
    assert.deepEqual(byName['hashicorp-vault']!.secretOptions(), [
      'auth.token',
      'auth.appRole.roleId',
      'auth.appRole.secretId',
    ]);
    assert.deepEqual(byName['aws-secrets-manager']!.pathOptions(), ['tls.caFile']);
    assert.deepEqual(byName['aws-secrets-manager']!.secretOptions(), [
      'credentials.secretAccessKey',
      'credentials.sessionToken',
    ]);
    assert.deepEqual(byName['azure-key-vault']!.pathOptions(), [
      'credential.certificatePath',
      'credential.tokenFilePath',
      'tls.caFile',
    ]);
    assert.deepEqual(byName['kubernetes']!.pathOptions(), [
      'kubeconfigPath',
      'serviceAccountDir',
      'tls.caFile',
    ]);
  });

  it('mapPaths rewrites every path option, nested objects and variants included, and nothing else', () => {
    const mapped = AZURE_KEY_VAULT_OPTIONS.mapPaths(
      {
        vaultUrl: 'https://v.vault.azure.net',
        credential: { type: 'client-certificate', clientId: 'c', certificatePath: 'cert.pem' },
        tls: { caFile: 'ca.pem' },
        prefix: 'p-',
      },
      (p) => `/base/${p}`,
    );
    assert.deepEqual(mapped, {
      vaultUrl: 'https://v.vault.azure.net',
      credential: { type: 'client-certificate', clientId: 'c', certificatePath: '/base/cert.pem' },
      tls: { caFile: '/base/ca.pem' },
      prefix: 'p-',
    });
    const vault = HASHICORP_VAULT_OPTIONS.mapPaths({ auth: { tokenFile: 't' } }, (p) => `/base/${p}`);
    assert.deepEqual(vault, { auth: { tokenFile: '/base/t' } });
  });

  it('expands ~ in path options and their defaults', () => {
    const { values } = PROVIDER_REGISTRY[0].options.resolve({});
    assert.equal(values.directory, join(homedir(), '.nebula', 'credentials'));
    const { values: given } = PROVIDER_REGISTRY[0].options.resolve({ directory: '~/elsewhere' });
    assert.equal(given.directory, join(homedir(), 'elsewhere'));
  });

  it('infers the options type from the declaration', () => {
    const ok: ExampleOptions = {
      url: 'u',
      tls: { caFile: 'x' },
      token: new SecretString('t'),
      retry: { maxRetries: 1 },
    };
    // @ts-expect-error an unknown option is a type error too
    const unknown: ExampleOptions = { url: 'u', bogus: 1 };
    // @ts-expect-error a nested unknown option is a type error too
    const nested: ExampleOptions = { timeouts: { read: 1 } };
    // @ts-expect-error mode is one of the declared values
    const mode: ExampleOptions = { mode: 'slow' };
    assert.ok(ok && unknown && nested && mode);
    const { values } = EXAMPLE.resolve({ url: 'u' }, { env: {} });
    const port: number = values.port;
    const maybeToken: SecretString | undefined = values.token;
    assert.equal(port, 443);
    assert.equal(maybeToken, undefined);
    (ok.token as SecretString).dispose();
  });
});
