// A kubeconfig user's `exec` credential plugin is run by this library as client-go runs it (ExecCredential
// v1/v1beta1, KUBERNETES_EXEC_INFO, caching until expirationTimestamp, a new run after a 401), with its
// output bounded and the run under the connect deadline; client-node's runner has neither bound nor timeout.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { ManualClock } from '../../src/core/clock.js';
import { EncryptionManager } from '../../src/core/crypto.js';
import { createMetadata } from '../../src/core/metadata.js';
import { CredentialStore } from '../../src/core/store.js';
import { EXEC_OUTPUT_LIMITS, KubernetesSecretsProvider } from '../../src/providers/kubernetes-secrets.js';
import { KubeCredential } from '../../src/providers/kubernetes-secrets-credential.js';
import { rejectsWithStorageError } from '../../src/testing/assertions.js';
import { KubernetesEmulator } from '../../src/testing/emulators/kubernetes.js';
import { processGone } from './process-helpers.js';

const emulator = new KubernetesEmulator();
const enc = EncryptionManager.generate();
const root = mkdtempSync(join(tmpdir(), 'nebula-exec-'));
// The plugins are extension-less CommonJS scripts; a package.json declaring ESM in some folder above the
// temp dir would make Node load them as modules, so this folder settles their module type itself.
writeFileSync(join(root, 'package.json'), '{"type":"commonjs"}\n');
const V1 = 'client.authentication.k8s.io/v1';
let n = 0;

/**
 * The plugin every token and certificate test runs: records each run (pid, KUBERNETES_EXEC_INFO, one env
 * variable) in its folder and prints `answer.json`'s `out` after `delayMs`.
 */
const ANSWERING_PLUGIN = `
const fs = require('node:fs');
const path = require('node:path');
const dir = __dirname;
fs.appendFileSync(path.join(dir, 'runs'), process.pid + '\\n');
fs.writeFileSync(path.join(dir, 'info.json'), process.env.KUBERNETES_EXEC_INFO || '');
fs.writeFileSync(path.join(dir, 'flavor'), process.env.PLUGIN_FLAVOR || '');
const answer = JSON.parse(fs.readFileSync(path.join(dir, 'answer.json'), 'utf8'));
setTimeout(() => {
  process.stdout.write(typeof answer.out === 'string' ? answer.out : JSON.stringify(answer.out));
  if (answer.stderr) process.stderr.write(answer.stderr);
  process.exitCode = answer.exitCode || 0;
}, answer.delayMs || 0);
`;

interface Setup {
  path: string;
  dir: string;
  namespace: string;
  token: string;
  /** Plugin runs so far. */
  runs: () => number;
  pids: () => number[];
  answer: (out: unknown, extra?: Record<string, unknown>) => void;
}

/** Writes `body` as an executable node script `name` in `dir` (the shebang is this node). */
function script(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!${process.execPath}\n${body}`);
  chmodSync(file, 0o755);
  return file;
}

/**
 * A kubeconfig whose user authenticates with an exec plugin (`exec`: the lines of the user's `exec:`
 * mapping, given the folder), for a new service account granted the Secret verbs.
 */
function setup(exec: (dir: string) => string[], body = ANSWERING_PLUGIN): Setup {
  const namespace = `exec-${++n}`;
  const token = emulator.createServiceAccount(namespace, 'app');
  emulator.grant(namespace, 'app');
  const dir = mkdtempSync(join(root, 'kube-'));
  script(dir, 'plugin.cjs', body);
  const path = emulator.writeKubeconfig({ token, namespace, dir });
  const lines = ['exec:', ...exec(dir).map((l) => `  ${l}`)];
  const text = readFileSync(path, 'utf8').replace(
    /^ {4}token: .*$/m,
    lines.map((l) => `    ${l}`).join('\n'),
  );
  writeFileSync(path, text, { mode: 0o600 });
  const runsFile = join(dir, 'runs');
  const pids = () => {
    try {
      return readFileSync(runsFile, 'utf8').trim().split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  return {
    path,
    dir,
    namespace,
    token,
    runs: () => pids().length,
    pids,
    answer: (out, extra = {}) => writeFileSync(join(dir, 'answer.json'), JSON.stringify({ out, ...extra })),
  };
}

/** The usual exec section: this node running plugin.cjs. */
const nodePlugin =
  (more: string[] = []) =>
  (dir: string) => [
    `apiVersion: ${V1}`,
    `command: ${JSON.stringify(process.execPath)}`,
    `args: [${JSON.stringify(join(dir, 'plugin.cjs'))}]`,
    'interactiveMode: Never',
    ...more,
  ];

const credential = (status: Record<string, unknown>, apiVersion = V1) => ({
  kind: 'ExecCredential',
  apiVersion,
  status,
});

/** True once `pid` is gone (killed and reaped), polling for up to 5 s. */
describe('kubeconfig exec credential plugin', () => {
  before(() => emulator.start());
  after(async () => {
    await emulator.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('a token plugin works end to end, runs once, and gets KUBERNETES_EXEC_INFO and its env', async () => {
    const s = setup(
      nodePlugin(['provideClusterInfo: true', 'env:', '- name: PLUGIN_FLAVOR', '  value: vanilla']),
    );
    s.answer(credential({ token: s.token }));
    const p = new KubernetesSecretsProvider({ kubeconfigPath: s.path });
    await p.connect();
    await p.store('exec-token', enc.encrypt(Buffer.from('v1')), createMetadata());
    const back = await p.retrieve('exec-token');
    assert.equal(enc.decrypt(back.data).toString(), 'v1');
    assert.equal(emulator.requests.at(-1)!.headers.authorization, `Bearer ${s.token}`);
    // No expirationTimestamp: cached for the life of the process, as client-go does.
    assert.equal(s.runs(), 1);
    const info = JSON.parse(readFileSync(join(s.dir, 'info.json'), 'utf8'));
    assert.equal(info.kind, 'ExecCredential');
    assert.equal(info.apiVersion, V1);
    assert.equal(info.spec.interactive, false);
    assert.equal(info.spec.cluster.server, emulator.url);
    assert.equal(
      Buffer.from(info.spec.cluster['certificate-authority-data'], 'base64').toString(),
      emulator.caCertPem,
    );
    assert.equal(readFileSync(join(s.dir, 'flavor'), 'utf8'), 'vanilla');
    const health = p.healthDetails();
    assert.equal(health.auth.kind, 'kubeconfig-exec');
    await p.close();
  });

  it('a relative command with a slash runs from the kubeconfig folder; v1beta1 defaults interactiveMode', async () => {
    const s = setup(() => ['apiVersion: client.authentication.k8s.io/v1beta1', 'command: ./bin/get-token']);
    mkdirSync(join(s.dir, 'bin'));
    script(
      join(s.dir, 'bin'),
      'get-token',
      ANSWERING_PLUGIN.replace('const dir = __dirname;', `const dir = ${JSON.stringify(s.dir)};`),
    );
    s.answer(credential({ token: s.token }, 'client.authentication.k8s.io/v1beta1'));
    const p = new KubernetesSecretsProvider({ kubeconfigPath: s.path });
    await p.connect();
    assert.equal(await p.exists('x'), false);
    assert.equal(JSON.parse(readFileSync(join(s.dir, 'info.json'), 'utf8')).spec.cluster, undefined);
    await p.close();
  });

  it('is run again once expirationTimestamp passes, and only then', async () => {
    const clock = new ManualClock();
    const s = setup(nodePlugin());
    s.answer(
      credential({ token: s.token, expirationTimestamp: new Date(clock.now() + 60_000).toISOString() }),
    );
    const p = new KubernetesSecretsProvider({ kubeconfigPath: s.path, clock });
    await p.connect();
    await p.exists('x');
    await clock.advance(30_000);
    await p.exists('x');
    assert.equal(s.runs(), 1, 'still valid');
    assert.equal(p.healthDetails().auth.expiresAt, clock.now() + 30_000);
    const next = emulator.createServiceAccount(s.namespace, 'app');
    s.answer(credential({ token: next, expirationTimestamp: new Date(clock.now() + 600_000).toISOString() }));
    await clock.advance(31_000);
    await p.exists('x');
    assert.equal(s.runs(), 2);
    assert.equal(emulator.requests.at(-1)!.headers.authorization, `Bearer ${next}`);
    await p.close();
  });

  it('a 401 runs the plugin again and the call succeeds with the new token', async () => {
    const s = setup(nodePlugin());
    s.answer(credential({ token: s.token }));
    const p = new KubernetesSecretsProvider({ kubeconfigPath: s.path });
    await p.connect();
    const next = emulator.createServiceAccount(s.namespace, 'app');
    s.answer(credential({ token: next }));
    emulator.revokeToken(s.token);
    assert.equal(await p.exists('x'), false);
    assert.equal(s.runs(), 2);
    assert.equal(emulator.requests.at(-1)!.headers.authorization, `Bearer ${next}`);
    // The new credential is kept: no run per request.
    await p.exists('y');
    assert.equal(s.runs(), 2);
    await p.close();
  });

  it('a client certificate from the plugin is presented over TLS on the provider transport', async () => {
    const s = setup(nodePlugin());
    const { certPem, keyPem } = emulator.issueClientCertificate('jane', ['devs']);
    emulator.addRole(s.namespace, 'devs-secrets', [
      { verbs: ['get', 'list', 'create', 'update', 'patch', 'delete', 'watch'], resources: ['secrets'] },
    ]);
    emulator.addRoleBinding(s.namespace, 'devs-secrets', 'devs-secrets', [{ kind: 'Group', name: 'devs' }]);
    s.answer(credential({ clientCertificateData: certPem, clientKeyData: keyPem }));
    const p = new KubernetesSecretsProvider({ kubeconfigPath: s.path });
    await p.connect();
    await p.store('exec-cert', enc.encrypt(Buffer.from('c1')), createMetadata());
    assert.equal(enc.decrypt((await p.retrieve('exec-cert')).data).toString(), 'c1');
    const last = emulator.requests.at(-1)!;
    assert.equal(last.headers.authorization, undefined);
    assert.deepEqual(last.clientCertificate, {
      commonName: 'jane',
      organizations: ['devs'],
      authorized: true,
    });
    // The watch stream presents it too (client-node's agent knows nothing of the plugin).
    const watch = new CredentialStore(p, enc).watch('exec-cert', () => {});
    await watch.ready;
    const watching = () =>
      emulator.requests.find((r) => r.query.get('watch') === 'true' && r.path.includes(`/${s.namespace}/`));
    while (!watching()) await new Promise((r) => setTimeout(r, 10));
    assert.equal(watching()!.clientCertificate?.commonName, 'jane');
    assert.equal(watching()!.headers.authorization, undefined);
    await watch.close();
    assert.equal(s.runs(), 1);
    await p.close();
  });

  it('an endless stdout fails promptly with limitBytes and the plugin is killed', async () => {
    const s = setup(
      nodePlugin(),
      `require('node:fs').appendFileSync(require('node:path').join(__dirname, 'runs'), process.pid + '\\n');
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      // "Forever" for the bound (64 times it), yet finite should a runner never stop it.
      let left = 1024;
      const pump = () => { while (left-- > 0) { if (!process.stdout.write(chunk)) { process.stdout.once('drain', pump); return; } } setInterval(() => {}, 1000); };
      pump();`,
    );
    const p = new KubernetesSecretsProvider({ kubeconfigPath: s.path, timeouts: { connectMs: 20_000 } });
    const started = Date.now();
    const error = await rejectsWithStorageError(p.connect());
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    assert.equal(error.code, 'Unavailable', error.message);
    assert.equal(error.details['limitBytes'], EXEC_OUTPUT_LIMITS.stdoutBytes);
    assert.equal(error.retryable, false);
    assert.ok(await processGone(s.pids()[0]!), 'the plugin was not killed');
    await p.close();
  });

  it('a hanging plugin (and the child it started) is killed at the connect deadline', async () => {
    const s = setup(
      nodePlugin(),
      `const { spawn } = require('node:child_process');
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'inherit' });
      require('node:fs').appendFileSync(require('node:path').join(__dirname, 'runs'), process.pid + '\\n' + child.pid + '\\n');
      setInterval(() => {}, 1000);`,
    );
    const p = new KubernetesSecretsProvider({ kubeconfigPath: s.path, timeouts: { connectMs: 1500 } });
    const started = Date.now();
    const error = await rejectsWithStorageError(p.connect());
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    assert.equal(error.code, 'Timeout', error.message);
    for (const pid of s.pids()) assert.ok(await processGone(pid), `process ${pid} was not killed`);
    await p.close();
  });

  it('a missing command fails connect with InvalidConfig and the installHint', async () => {
    const s = setup(() => [
      `apiVersion: ${V1}`,
      `command: ${JSON.stringify(join(root, 'no-such-dir', 'kubelogin'))}`,
      'interactiveMode: Never',
      'installHint: "install kubelogin: brew install int128/kubelogin/kubelogin"',
    ]);
    const p = new KubernetesSecretsProvider({ kubeconfigPath: s.path });
    const error = await rejectsWithStorageError(p.connect());
    assert.equal(error.code, 'InvalidConfig', error.message);
    assert.match(error.message, /executable .*kubelogin not found/);
    assert.match(error.message, /brew install int128\/kubelogin\/kubelogin/);
    await p.close();
  });

  it('bad configurations fail connect with InvalidConfig before anything runs', async () => {
    for (const [exec, pattern] of [
      [
        ['apiVersion: client.authentication.k8s.io/v1alpha1', 'command: x', 'interactiveMode: Never'],
        /v1alpha1/,
      ],
      [[`apiVersion: ${V1}`, 'command: x'], /interactiveMode must be specified/],
      [[`apiVersion: ${V1}`, 'command: x', 'interactiveMode: Always'], /terminal/],
      [['command: x', 'interactiveMode: Never'], /apiVersion must be specified/],
      [[`apiVersion: ${V1}`, 'interactiveMode: Never'], /command must be specified/],
    ] as const) {
      const s = setup(() => [...exec]);
      const p = new KubernetesSecretsProvider({ kubeconfigPath: s.path });
      const error = await rejectsWithStorageError(p.connect());
      assert.equal(error.code, 'InvalidConfig', error.message);
      assert.match(error.message, pattern);
      await p.close();
    }
  });

  it('bad output is a typed error that never echoes it; the sentinel never leaks anywhere', async () => {
    const sentinel = `SENTINEL-${'7'.repeat(24)}`;
    const logged: string[] = [];
    const record = (fields: Record<string, unknown>, message?: string) => {
      logged.push(`${message ?? ''} ${inspect(fields, { depth: 8 })}`);
    };
    const logger = { debug: record, info: record, warn: record, error: record };
    const seen: string[] = [];
    for (const [answer, code, pattern] of [
      [{ out: `{"token": "${sentinel}"` }, 'AuthenticationFailed', /not JSON/],
      [
        { out: credential({ token: sentinel }, 'client.authentication.k8s.io/v1beta1') },
        'InvalidConfig',
        /configured to use API version client\.authentication\.k8s\.io\/v1, .*v1beta1/,
      ],
      [
        { out: { kind: 'Secret', apiVersion: V1, status: { token: sentinel } } },
        'AuthenticationFailed',
        /not an ExecCredential/,
      ],
      [{ out: credential({ clientCertificateData: sentinel }) }, 'AuthenticationFailed', /not both/],
      [{ out: credential({}) }, 'AuthenticationFailed', /without a token/],
      [
        { out: credential({ token: sentinel }), exitCode: 3, stderr: 'login expired, run aws sso login' },
        'AuthenticationFailed',
        /exit code 3: login expired, run aws sso login/,
      ],
    ] as const) {
      const s = setup(nodePlugin());
      writeFileSync(join(s.dir, 'answer.json'), JSON.stringify(answer));
      const p = new KubernetesSecretsProvider({ kubeconfigPath: s.path, logger });
      const error = await rejectsWithStorageError(p.connect());
      assert.equal(error.code, code, error.message);
      assert.match(error.message, pattern);
      seen.push(error.message, inspect(error, { depth: 8 }), JSON.stringify(error), String(error.stack));
      await p.close();
    }
    // A working plugin whose token is the secret: nothing the provider renders holds it.
    const s = setup(nodePlugin());
    const { certPem, keyPem } = emulator.issueClientCertificate(`system:serviceaccount:${s.namespace}:app`);
    s.answer(credential({ token: s.token, clientCertificateData: certPem, clientKeyData: keyPem }));
    const p = new KubernetesSecretsProvider({ kubeconfigPath: s.path, logger });
    await p.connect();
    await p.exists('x');
    const missing = await rejectsWithStorageError(p.retrieve('missing'));
    seen.push(
      inspect(p, { depth: 8, showHidden: true }),
      JSON.stringify(p.healthDetails()),
      inspect(missing),
      JSON.stringify(missing),
    );
    await p.close();
    // What the provider keeps of a run renders without the token or the key (its agent holds the key).
    const kept = new KubeCredential(sentinel, new Agent({ cert: certPem, key: keyPem }), undefined, certPem);
    seen.push(inspect(kept, { depth: 8, showHidden: true }), JSON.stringify(kept), String(kept));
    kept.dispose();
    const all = [...seen, ...logged].join('\n');
    assert.ok(
      logged.some((l) => l.includes('exec credential plugin ran')),
      'the run is logged',
    );
    assert.ok(!all.includes(sentinel), 'the sentinel leaked');
    assert.ok(!all.includes(s.token), 'the token leaked');
    const keyBody = keyPem.split('\n')[1]!;
    assert.ok(!all.includes(keyBody), 'the key leaked');
  });

  it('concurrent calls share one plugin run', async () => {
    const clock = new ManualClock();
    const s = setup(nodePlugin());
    s.answer(credential({ token: s.token, expirationTimestamp: new Date(clock.now() + 1000).toISOString() }));
    const p = new KubernetesSecretsProvider({ kubeconfigPath: s.path, clock });
    await p.connect();
    assert.equal(s.runs(), 1);
    s.answer(credential({ token: s.token }), { delayMs: 300 });
    await clock.advance(2000);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => p.exists(`c${i}`)));
    assert.deepEqual(answers, Array(8).fill(false));
    assert.equal(s.runs(), 2);
    // Concurrent 401s with the same stale token cost one run too (client-go's maybeRefreshCreds).
    const next = emulator.createServiceAccount(s.namespace, 'app');
    s.answer(credential({ token: next }), { delayMs: 300 });
    emulator.revokeToken(s.token);
    const again = await Promise.all(Array.from({ length: 8 }, (_, i) => p.exists(`d${i}`)));
    assert.deepEqual(again, Array(8).fill(false));
    assert.equal(s.runs(), 3);
    await p.close();
  });

  it('a watch stream refused with 401 runs the plugin again, and reconnects with the new token', async () => {
    const s = setup(nodePlugin());
    s.answer(credential({ token: s.token }));
    const p = new KubernetesSecretsProvider({ kubeconfigPath: s.path });
    const writer = new KubernetesSecretsProvider({
      kubeconfigPath: emulator.writeKubeconfig({ namespace: s.namespace }),
    });
    const store = new CredentialStore(p, enc);
    const writes = new CredentialStore(writer, enc);
    const watchesWith = (token: string) =>
      emulator.requests.filter(
        (r) => r.query.get('watch') === 'true' && r.headers.authorization === `Bearer ${token}`,
      ).length;
    const until = async (what: string, done: () => boolean) => {
      for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(done(), what);
    };
    try {
      await writes.put('watched', 'v1');
      const changes: string[] = [];
      // No poll within the test: only the stream can report the change, and only the stream calls the API.
      const watch = store.watch('watched', (change) => void changes.push(change.kind), {
        intervalMs: 600_000,
        onError: () => {},
      });
      await watch.ready;
      await until('the watch stream never opened', () => watchesWith(s.token) >= 1);
      const next = emulator.createServiceAccount(s.namespace, 'app');
      s.answer(credential({ token: next }));
      emulator.revokeToken(s.token);
      emulator.closeWatches();
      await until('the watch never reconnected with the renewed token', () => watchesWith(next) >= 1);
      assert.equal(s.runs(), 2);
      await writes.put('watched', 'v2');
      await until('the reconnected stream reported no change', () => changes.length >= 1);
    } finally {
      // Closing the store stops its watches too, so a failed assertion leaves nothing running.
      await store.close();
      await writes.close();
    }
  });
});
