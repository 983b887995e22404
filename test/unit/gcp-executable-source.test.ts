// Workload identity federation with an executable credential source: the library runs the executable
// itself (Google's pluggable-auth protocol) through the bounded runner and hands its subject token to
// google-auth-library, whose STS exchange then goes through the provider's bounded token transport. The
// executable must be allowed (GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1), its output is bounded, it is
// killed at the deadline, output_file is a cache, and an error response is AuthenticationFailed. (x509
// certificate sources: gcp-x509-source.test.ts.)

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { EncryptionManager } from '../../src/core/crypto.js';
import { createMetadata } from '../../src/core/metadata.js';
import { CREDENTIAL_HELPER_OUTPUT_LIMITS } from '../../src/core/process-run.js';
import { GcpSecretManagerProvider } from '../../src/providers/gcp-secret-manager.js';
import { rejectsWithStorageError } from '../../src/testing/assertions.js';
import { GcpSecretManagerEmulator } from '../../src/testing/emulators/gcp.js';
import { withEnv } from './env-helpers.js';
import { stsTokenAnswer } from './gcp-helpers.js';
import { processGone } from './process-helpers.js';

const SUBJECT_TOKEN = 'SENTINEL-executable-subject-token-6a2f';
const AUDIENCE = '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';

const env = (vars: Record<string, string | undefined>) => ({
  HTTPS_PROXY: undefined,
  https_proxy: undefined,
  NO_PROXY: undefined,
  no_proxy: undefined,
  GOOGLE_APPLICATION_CREDENTIALS: undefined,
  GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES: '1',
  ...vars,
});

const success = (fields: Record<string, unknown> = {}) => ({
  version: 1,
  success: true,
  token_type: JWT,
  id_token: SUBJECT_TOKEN,
  expiration_time: Math.floor(Date.now() / 1000) + 3600,
  ...fields,
});

describe('GCP external_account with an executable credential source', () => {
  let emulator: GcpSecretManagerEmulator;
  let sts: Server;
  const exchanges: { subject: string; type: string }[] = [];
  let root: string;
  const enc = EncryptionManager.generate();

  before(async () => {
    emulator = await new GcpSecretManagerEmulator().start();
    root = mkdtempSync(join(tmpdir(), 'nebula-gcp-executable-'));
    // The executables' folder declares CommonJS, whatever a package.json above the temp dir says.
    writeFileSync(join(root, 'package.json'), '{"type":"commonjs"}');
    // An STS token exchange on the emulator's certificate: it issues an emulator token for the subject token
    // the executable printed, and refuses any other.
    sts = createServer({ cert: emulator.ca.serverCertPem, key: emulator.ca.serverKeyPem }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c;
      });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        exchanges.push({
          subject: form.get('subject_token') ?? '',
          type: form.get('subject_token_type') ?? '',
        });
        if (form.get('subject_token') !== SUBJECT_TOKEN) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end('{"error":"invalid_grant"}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(stsTokenAnswer(emulator));
      });
    });
    await new Promise<void>((resolve) => sts.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    sts.closeAllConnections();
    await new Promise((resolve) => sts.close(resolve));
    await emulator.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /**
   * A folder with an executable (a node script of `body`, recording its pid and GOOGLE_* variables) and
   * an external_account file running it.
   */
  function setup(body: string, executable: Record<string, unknown> = {}) {
    const dir = mkdtempSync(join(root, 'case-'));
    const script = join(dir, 'executable.js');
    writeFileSync(
      script,
      `const fs = require('node:fs');
      fs.appendFileSync(${JSON.stringify(join(dir, 'runs'))}, JSON.stringify({ pid: process.pid, argv: process.argv.slice(2), env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('GOOGLE_EXTERNAL_ACCOUNT_'))) }) + '\\n');
      ${body}`,
    );
    const file = join(dir, 'external-account.json');
    writeFileSync(
      file,
      JSON.stringify({
        type: 'external_account',
        audience: AUDIENCE,
        subject_token_type: JWT,
        token_url: `https://127.0.0.1:${(sts.address() as { port: number }).port}/v1/token`,
        credential_source: {
          executable: { command: `"${process.execPath}" ${script} --flag`, ...executable },
        },
      }),
    );
    return {
      dir,
      file,
      runs: () =>
        (() => {
          try {
            return readFileSync(join(dir, 'runs'), 'utf8');
          } catch {
            return '';
          }
        })()
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { pid: number; argv: string[]; env: Record<string, string> }),
    };
  }

  const printing = (value: unknown) => `process.stdout.write(${JSON.stringify(JSON.stringify(value))});`;

  const provider = (file: string, connectMs?: number) =>
    new GcpSecretManagerProvider({
      ...emulator.providerOptions('rest'),
      credentialsFile: file,
      ...(connectMs ? { timeouts: { connectMs } } : {}),
    });

  async function connectFails(
    file: string,
    vars: Record<string, string | undefined> = {},
    connectMs?: number,
  ) {
    return withEnv(env(vars), async () => {
      const p = provider(file, connectMs);
      try {
        const error = await rejectsWithStorageError(p.connect());
        for (const text of [error.message, inspect(error, { depth: 8 }), JSON.stringify(error)]) {
          assert.ok(!text.includes(SUBJECT_TOKEN), `the subject token leaked: ${text}`);
        }
        return error;
      } finally {
        await p.close();
      }
    });
  }

  it('its subject token is exchanged at STS and the token authorizes Secret Manager calls', async () => {
    const s = setup(printing(success()));
    const before = exchanges.length;
    await withEnv(env({}), async () => {
      const p = provider(s.file);
      try {
        await p.connect();
        await p.store('executable-sourced', enc.encrypt(Buffer.from('x')), createMetadata());
        assert.ok(await p.exists('executable-sourced'));
      } finally {
        await p.close();
      }
    });
    assert.deepEqual(exchanges.slice(before), [{ subject: SUBJECT_TOKEN, type: JWT }]);
    const [run] = s.runs();
    assert.deepEqual(run?.argv, ['--flag']);
    assert.deepEqual(run?.env, {
      GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES: '1',
      GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE: AUDIENCE,
      GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE: JWT,
      GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE: '0',
    });
  });

  // Old code: google-auth-library's plain Error, not an InvalidConfig.
  it('without GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 it is InvalidConfig and nothing runs', async () => {
    const s = setup(printing(success()));
    const error = await connectFails(s.file, { GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES: undefined });
    assert.equal(error.code, 'InvalidConfig', error.message);
    assert.match(error.message, /GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES/);
    assert.equal(s.runs().length, 0);
  });

  // Old code: google-auth-library read all of it, then failed to parse it (quoting it in its message).
  it('an answer past the stdout bound is Unavailable with limitBytes, and the executable is killed', async () => {
    const s = setup(
      `process.stdout.write('{"id_token":"${SUBJECT_TOKEN}"'); const chunk = Buffer.alloc(64 * 1024, 0x20);
      let left = 32; const pump = () => { while (left-- > 0) { if (!process.stdout.write(chunk)) { process.stdout.once('drain', pump); return; } } setInterval(() => {}, 1000); };
      pump();`,
    );
    const error = await connectFails(s.file, {}, 20_000);
    assert.equal(error.code, 'Unavailable', error.message);
    assert.equal(error.retryable, false);
    assert.equal(error.details['limitBytes'], CREDENTIAL_HELPER_OUTPUT_LIMITS.stdoutBytes);
    assert.ok(await processGone(s.runs()[0]!.pid), 'the executable was not killed');
  });

  // Old code: only the executable itself was killed, at timeout_millis (5 s here), not the child it started.
  it('a hanging executable (and its child) is killed at the connect deadline, before timeout_millis', async () => {
    const s = setup(
      `const child = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'inherit' });
      fs.appendFileSync(require('node:path').join(__dirname, 'runs'), JSON.stringify({ pid: child.pid }) + '\\n');
      setInterval(() => {}, 1000);`,
      { timeout_millis: 5000 },
    );
    const error = await connectFails(s.file, {}, 1500);
    assert.equal(error.code, 'Timeout', error.message);
    const pids = s.runs().map((r) => r.pid);
    assert.equal(pids.length, 2);
    for (const pid of pids) assert.ok(await processGone(pid), `process ${pid} was not killed`);
  });

  it('output_file holds the response for the next connect: the executable runs once', async () => {
    const output = join(mkdtempSync(join(root, 'cache-')), 'response.json');
    const s = setup(
      `const answer = ${JSON.stringify(JSON.stringify(success()))};
      fs.writeFileSync(process.env.GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE, answer);
      process.stdout.write(answer);`,
      { output_file: output },
    );
    await withEnv(env({}), async () => {
      for (let i = 0; i < 2; i++) {
        const p = provider(s.file);
        try {
          await p.connect();
        } finally {
          await p.close();
        }
      }
    });
    const runs = s.runs();
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.env['GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE'], output);
  });

  it('an error response, a failing or a malformed executable are AuthenticationFailed', async () => {
    for (const [body, pattern] of [
      [
        printing({ version: 1, success: false, code: 'UNAUTHORIZED', message: 'caller not allowed' }),
        /reported an error \(UNAUTHORIZED\): caller not allowed/,
      ],
      [
        `${printing(success())} process.stderr.write('login expired'); process.exitCode = 4;`,
        /exit code 4: login expired/,
      ],
      [`process.stdout.write('{"id_token": "${SUBJECT_TOKEN}"');`, /not JSON/],
      [printing(success({ token_type: 'urn:other' })), /token_type/],
      [printing(success({ expiration_time: 1000 })), /expired/],
      [printing(success({ version: 2 })), /version 2/],
    ] as const) {
      const s = setup(body);
      const error = await connectFails(s.file);
      assert.equal(error.code, 'AuthenticationFailed', error.message);
      assert.match(error.message, pattern);
    }
  });

  it('timeout_millis outside [5 s, 120 s] is InvalidConfig before anything runs', async () => {
    const s = setup(printing(success()), { timeout_millis: 1000 });
    const error = await connectFails(s.file);
    assert.equal(error.code, 'InvalidConfig', error.message);
    assert.match(error.message, /timeout_millis/);
    assert.equal(s.runs().length, 0);
  });
});
