// A kubeconfig user's `token-file` (and a `tokenFile` auth provider) is read by this library, bounded and
// FIFO-safe under the connect deadline, and re-read when it rotates; client-node never reads it (its parser
// reads every user's token-file synchronously and unbounded, once; its FileAuth re-reads on the request path).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { EncryptionManager } from '../../src/core/crypto.js';
import { FILE_SIZE_LIMITS } from '../../src/core/files.js';
import { createMetadata } from '../../src/core/metadata.js';
import { KubernetesSecretsProvider } from '../../src/providers/kubernetes-secrets.js';
import { rejectsWithStorageError } from '../../src/testing/assertions.js';
import { KubernetesEmulator } from '../../src/testing/emulators/kubernetes.js';
import { runInChild } from './child-client.js';

const emulator = new KubernetesEmulator();
const enc = EncryptionManager.generate();
const root = mkdtempSync(join(tmpdir(), 'nebula-token-file-'));
let n = 0;

/**
 * A kubeconfig for a new service account of the emulator whose user authenticates with `auth` (the YAML of
 * the user's fields), in its own folder; returns its path, the folder and the account's token.
 */
function kubeconfig(auth: (dir: string) => string[]): {
  path: string;
  dir: string;
  token: string;
  namespace: string;
} {
  const namespace = `token-file-${++n}`;
  const token = emulator.createServiceAccount(namespace, 'app');
  emulator.grant(namespace, 'app');
  const dir = mkdtempSync(join(root, 'kube-'));
  const path = emulator.writeKubeconfig({ token, namespace, dir });
  // Swap the inline token for the user's fields under test.
  const text = readFileSync(path, 'utf8').replace(
    /^ {4}token: .*$/m,
    auth(dir)
      .map((l) => `    ${l}`)
      .join('\n'),
  );
  writeFileSync(path, text, { mode: 0o600 });
  return { path, dir, token, namespace };
}

describe('kubeconfig token-file', () => {
  before(() => emulator.start());
  after(async () => {
    await emulator.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('is read relative to the kubeconfig, trimmed, and a rotated file is picked up after a 401', async () => {
    const { path, dir, token, namespace } = kubeconfig(() => ['token-file: token']);
    writeFileSync(join(dir, 'token'), `${token}\n`);
    const p = new KubernetesSecretsProvider({ kubeconfigPath: path });
    await p.connect();
    await p.store('rotating', enc.encrypt(Buffer.from('v1')), createMetadata());
    assert.equal(emulator.requests.at(-1)!.headers.authorization, `Bearer ${token}`);
    assert.equal(p.healthDetails().auth.kind, 'kubeconfig-token-file');
    const rotated = emulator.createServiceAccount(namespace, 'app');
    writeFileSync(join(dir, 'token'), rotated);
    emulator.revokeToken(token);
    const back = await p.retrieve('rotating');
    assert.equal(enc.decrypt(back.data).toString(), 'v1');
    assert.equal(emulator.requests.at(-1)!.headers.authorization, `Bearer ${rotated}`);
    await p.close();
  });

  it('is re-read every tokenRefreshMs, like client-go (client-node reads it once, at load)', async () => {
    const { path, dir, token, namespace } = kubeconfig((d) => [
      `token-file: ${JSON.stringify(join(d, 'token'))}`,
    ]);
    writeFileSync(join(dir, 'token'), token);
    const clock = new ManualClock();
    const p = new KubernetesSecretsProvider({ kubeconfigPath: path, clock, tokenRefreshMs: 30_000 });
    await p.connect();
    const next = emulator.createServiceAccount(namespace, 'app');
    writeFileSync(join(dir, 'token'), next);
    await p.exists('x');
    assert.equal(emulator.requests.at(-1)!.headers.authorization, `Bearer ${token}`, 'not yet due');
    await clock.advance(30_000);
    await p.exists('x');
    assert.equal(emulator.requests.at(-1)!.headers.authorization, `Bearer ${next}`);
    await p.close();
  });

  it('a tokenFile auth provider is read the same way, not by client-node on the request path', async () => {
    const { path, dir, token } = kubeconfig((d) => [
      'auth-provider:',
      '  name: tokenFile',
      `  config: { tokenFile: ${JSON.stringify(join(d, 'token'))} }`,
    ]);
    writeFileSync(join(dir, 'token'), token);
    const p = new KubernetesSecretsProvider({ kubeconfigPath: path });
    await p.connect();
    await p.exists('x');
    assert.equal(emulator.requests.at(-1)!.headers.authorization, `Bearer ${token}`);
    assert.equal(p.healthDetails().auth.kind, 'kubeconfig-token-file');
    await p.close();
  });

  it('an inline token wins over token-file, as in client-node (the file is never read)', async () => {
    const { path, token } = kubeconfig(() => []);
    const text = readFileSync(path, 'utf8').replace(
      /^ {2}user:\n/m,
      `  user:\n    token: ${JSON.stringify(token)}\n    token-file: /nonexistent/token\n`,
    );
    writeFileSync(path, text);
    const p = new KubernetesSecretsProvider({ kubeconfigPath: path });
    await p.connect();
    await p.exists('x');
    assert.equal(emulator.requests.at(-1)!.headers.authorization, `Bearer ${token}`);
    await p.close();
  });

  it('an oversize, missing or directory token-file fails connect with InvalidConfig naming the file', async () => {
    for (const [setup, pattern] of [
      [
        (dir: string) => writeFileSync(join(dir, 'token'), Buffer.alloc(FILE_SIZE_LIMITS.token + 1, 0x61)),
        /bytes/,
      ],
      [() => {}, /does not exist/],
      [(dir: string) => execFileSync('mkdir', [join(dir, 'token')]), /directory/],
    ] as const) {
      const { path, dir } = kubeconfig(() => ['token-file: token']);
      setup(dir);
      const p = new KubernetesSecretsProvider({ kubeconfigPath: path });
      const error = await rejectsWithStorageError(p.connect());
      assert.equal(error.code, 'InvalidConfig', error.message);
      assert.match(error.message, /token file of user "emulator-user"/);
      assert.match(error.message, pattern);
      await p.close();
    }
  });

  it('a FIFO as token-file or auth-provider tokenFile: connect fails, nothing hangs, the process exits', async () => {
    const fifo = join(mkdtempSync(join(root, 'fifo-')), 'token');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const plain = kubeconfig(() => [`token-file: ${JSON.stringify(fifo)}`]).path;
    const provider = kubeconfig(() => [
      'auth-provider:',
      '  name: tokenFile',
      `  config: { tokenFile: ${JSON.stringify(fifo)} }`,
    ]).path;
    const { out: text, hung } = await runInChild(
      `const { KubernetesSecretsProvider } = await import(SRC + 'providers/kubernetes-secrets.js');
      for (const kubeconfigPath of ${JSON.stringify([plain, provider])}) {
        const p = new KubernetesSecretsProvider({ kubeconfigPath });
        try { await p.connect(); await p.exists('x'); console.log('connected'); }
        catch (e) { console.log(e.code, e.message); }
        await p.close();
      }`,
    );
    const out = { text, hung };
    assert.equal(out.hung, false, `a FIFO token file hung the provider: ${out.text}`);
    const lines = out.text.trim().split('\n');
    assert.match(lines[0] ?? '', /^InvalidConfig .*FIFO/, out.text);
    assert.match(lines[1] ?? '', /^InvalidConfig .*FIFO/, out.text);
  });
});
