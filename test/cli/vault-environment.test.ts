import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { createMetadata } from '../../src/core/metadata.js';
import { HashiCorpVaultProvider } from '../../src/providers/hashicorp-vault.js';
import { VaultEmulator } from '../../src/testing/emulators/vault.js';
import { nebula, tempHome } from './helpers.js';

interface Setting {
  option: string;
  source: string;
  from?: string;
  secret: boolean;
  value?: unknown;
}

function settings(stderr: string): Record<string, Setting> {
  const out: Record<string, Setting> = {};
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as Setting & { message?: string };
    if (entry.message === 'setting') out[entry.option] = entry;
  }
  return out;
}

describe('nebula-credential with the Vault CLI environment (VAULT_ADDR, VAULT_TOKEN, ...)', () => {
  let vault: VaultEmulator;
  let caFile: string;
  let token: string;
  let home: string;
  let cleanup: () => Promise<void>;
  const NO_VAULT_ENV = {
    VAULT_ADDR: undefined,
    VAULT_TOKEN: undefined,
    VAULT_NAMESPACE: undefined,
    VAULT_CACERT: undefined,
  };

  before(async () => {
    vault = new VaultEmulator({ tls: true });
    await vault.start();
    caFile = vault.writeCaFile()!;
    token = vault.rootToken;
    ({ home, cleanup } = await tempHome());
    const seed = new HashiCorpVaultProvider({ address: vault.url, auth: { token }, tls: { caFile } });
    const data = {
      version: 1,
      keyId: 'cli00000',
      nonce: randomBytes(12),
      ciphertext: randomBytes(4),
      tag: randomBytes(16),
    };
    await seed.store('from_env', data, createMetadata());
    await seed.close();
  });
  after(async () => {
    await vault.stop();
    await cleanup();
  });

  it('--provider hashicorp-vault list works with only VAULT_ADDR, VAULT_TOKEN (and the CA) set', async () => {
    const r = await nebula(['--provider', 'hashicorp-vault', 'list'], {
      home,
      env: { ...NO_VAULT_ENV, VAULT_ADDR: vault.url, VAULT_TOKEN: token, VAULT_CACERT: caFile },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'from_env\n');
  });

  it('--debug says where each setting came from and never shows the token', async () => {
    const r = await nebula(['list', '--provider', 'hashicorp-vault', '--debug'], {
      home,
      env: { ...NO_VAULT_ENV, VAULT_ADDR: vault.url, VAULT_TOKEN: token, VAULT_CACERT: caFile },
    });
    assert.equal(r.status, 0, r.stderr);
    const s = settings(r.stderr);
    assert.deepEqual(s['address'], {
      level: 'debug',
      message: 'setting',
      option: 'address',
      source: 'environment',
      from: 'VAULT_ADDR',
      secret: false,
      value: `${vault.url}/`,
    } as unknown as Setting);
    assert.deepEqual(
      [s['auth.token']?.source, s['auth.token']?.from, s['auth.token']?.secret],
      ['environment', 'VAULT_TOKEN', true],
    );
    assert.equal(s['auth.token']?.value, undefined);
    assert.deepEqual([s['tls.caFile']?.source, s['tls.caFile']?.from], ['environment', 'VAULT_CACERT']);
    assert.deepEqual([s['mount']?.source, s['mount']?.value], ['default', 'secret']);
    assert.ok(!r.stderr.includes(token), 'the token never reaches standard error');
  });

  it('without VAULT_TOKEN it uses ~/.vault-token, as the vault CLI does', async () => {
    const { home: own, cleanup: done } = await tempHome();
    try {
      await writeFile(join(own, '.vault-token'), `${token}\n`, { mode: 0o600 });
      const r = await nebula(['list', '--provider', 'hashicorp-vault', '--debug'], {
        home: own,
        env: { ...NO_VAULT_ENV, VAULT_ADDR: vault.url, VAULT_CACERT: caFile },
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'from_env\n');
      const s = settings(r.stderr);
      assert.deepEqual([s['auth.tokenFile']?.source, s['auth.tokenFile']?.from], ['file', '~/.vault-token']);
      assert.ok(!r.stderr.includes(token));
    } finally {
      await done();
    }
  });

  it('with no token anywhere, InvalidConfig names every way to give one', async () => {
    const { home: own, cleanup: done } = await tempHome();
    try {
      const r = await nebula(['list', '--provider', 'hashicorp-vault'], {
        home: own,
        env: { ...NO_VAULT_ENV, VAULT_ADDR: vault.url, VAULT_CACERT: caFile },
      });
      assert.equal(r.status, EXIT_CODES.InvalidConfig, r.stderr);
      assert.match(r.stderr, /no Vault token/);
      assert.match(r.stderr, /VAULT_TOKEN/);
      assert.match(r.stderr, /vault login/);
    } finally {
      await done();
    }
  });

  it('explicit options beat the environment, and a config file resolves tls.caFile against itself', async () => {
    const dir = join(home, 'configs', 'vault');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'ca.pem'), vault.caCertPem!);
    await writeFile(
      join(dir, 'vault.json'),
      JSON.stringify({ provider: 'hashicorp-vault', address: vault.url, tls: { caFile: 'ca.pem' } }),
    );
    const r = await nebula(['list', '--config', join(dir, 'vault.json'), '--debug'], {
      home,
      cwd: home,
      env: {
        ...NO_VAULT_ENV,
        VAULT_ADDR: 'https://127.0.0.1:1',
        VAULT_TOKEN: token,
        VAULT_CACERT: '/nonexistent/ca.pem',
      },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'from_env\n');
    const s = settings(r.stderr);
    assert.deepEqual([s['address']?.source, s['address']?.from], ['file', join(dir, 'vault.json')]);
    assert.deepEqual([s['tls.caFile']?.source, s['tls.caFile']?.value], ['file', join(dir, 'ca.pem')]);
    assert.equal(s['auth.token']?.source, 'environment');
  });
});
