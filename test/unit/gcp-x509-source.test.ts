// Workload identity federation with an x509 certificate source: the library reads the certificate config,
// certificate, key and trust chain itself (bounded, regular files only, under the connect deadline) and
// hands google-auth-library the subject token (the JSON array of base64 DER certificates) as a supplier and
// the client certificate as its transporters' agent, so the STS exchange goes over mutual TLS through the
// provider's bounded token transport (and the core tunnel when a proxy applies). The STS server here asks
// for a client certificate of the emulator's CA and issues an emulator token only for a subject token whose
// leaf is the certificate it was shown.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { inspect } from 'node:util';
import { EncryptionManager } from '../../src/core/crypto.js';
import { FILE_SIZE_LIMITS } from '../../src/core/files.js';
import { createMetadata } from '../../src/core/metadata.js';
import { GcpSecretManagerProvider } from '../../src/providers/gcp-secret-manager.js';
import { TOKEN_RESPONSE_LIMIT } from '../../src/providers/gcp-secret-manager-token-http.js';
import { rejectsWithStorageError } from '../../src/testing/assertions.js';
import { createTestCertificateAuthority } from '../../src/testing/emulator-kit/tls.js';
import { GcpSecretManagerEmulator } from '../../src/testing/emulators/gcp.js';
import { withEnv } from './env-helpers.js';
import { sendEndlessTokenAnswer, stsTokenAnswer } from './gcp-helpers.js';
import { TestProxy } from './proxy-helpers.js';

const AUDIENCE = '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x';
const MTLS = 'urn:ietf:params:oauth:token-type:mtls';
const KEY_SENTINEL = 'SENTINELx509privatekeyQ7vZ';
const HUGE = 96 * 1024 * 1024;

/** Every variable that could route a request or find a certificate config elsewhere, cleared; then `vars`. */
const env = (vars: Record<string, string | undefined> = {}) => ({
  HTTPS_PROXY: undefined,
  https_proxy: undefined,
  HTTP_PROXY: undefined,
  http_proxy: undefined,
  NO_PROXY: undefined,
  no_proxy: undefined,
  GOOGLE_APPLICATION_CREDENTIALS: undefined,
  GOOGLE_API_CERTIFICATE_CONFIG: undefined,
  CLOUDSDK_CONFIG: undefined,
  ...vars,
});

/** What the STS server saw of one exchange. */
interface Exchange {
  authorized: boolean;
  /** The client certificate's DER, base64 (empty without one). */
  peer: string;
  subject: string[];
  type: string;
}

describe('GCP external_account with an x509 certificate source', () => {
  let emulator: GcpSecretManagerEmulator;
  let sts: Server;
  let stsMode: 'ok' | 'endless' = 'ok';
  let stsSent = 0;
  const exchanges: Exchange[] = [];
  const impersonations: { authorized: boolean; bearer: string }[] = [];
  const proxy = new TestProxy();
  let root: string;
  const enc = EncryptionManager.generate();

  before(async () => {
    emulator = await new GcpSecretManagerEmulator().start();
    await proxy.start();
    root = mkdtempSync(join(tmpdir(), 'nebula-gcp-x509-'));
    // Mutual TLS as Google's mTLS STS endpoint: a client certificate is asked for; one the CA did not
    // issue, or none, is answered invalid_client (checked in the handler, so the test sees the refusal).
    sts = createServer(
      {
        cert: emulator.ca.serverCertPem,
        key: emulator.ca.serverKeyPem,
        ca: emulator.ca.caCertPem,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => {
          body += c;
        });
        req.on('end', () => {
          const socket = req.socket as TLSSocket;
          const peer = socket.getPeerCertificate();
          const form = new URLSearchParams(body);
          let subject: string[] = [];
          try {
            subject = JSON.parse(form.get('subject_token') ?? '[]') as string[];
          } catch {}
          if (req.url?.endsWith(':generateAccessToken')) {
            // Impersonation (iamcredentials): google-auth-library sends it over the mTLS agent too.
            impersonations.push({ authorized: socket.authorized, bearer: req.headers.authorization ?? '' });
            const { accessToken } = emulator.auth.issueAccessToken(emulator.serviceAccount.email);
            res.writeHead(socket.authorized ? 200 : 401, { 'content-type': 'application/json' });
            res.end(
              JSON.stringify({ accessToken, expireTime: new Date(Date.now() + 3600_000).toISOString() }),
            );
            return;
          }
          const seen: Exchange = {
            authorized: socket.authorized,
            peer: peer?.raw ? peer.raw.toString('base64') : '',
            subject,
            type: form.get('subject_token_type') ?? '',
          };
          exchanges.push(seen);
          if (!seen.authorized) {
            res.writeHead(401, { 'content-type': 'application/json' });
            res.end('{"error":"invalid_client","error_description":"a client certificate is required"}');
            return;
          }
          if (subject[0] !== seen.peer) {
            res.writeHead(400, { 'content-type': 'application/json' });
            res.end('{"error":"invalid_grant"}');
            return;
          }
          res.writeHead(200, { 'content-type': 'application/json' });
          if (stsMode === 'ok') {
            res.end(stsTokenAnswer(emulator));
            return;
          }
          sendEndlessTokenAnswer(res, HUGE, (bytes) => {
            stsSent += bytes;
          });
        });
      },
    );
    await new Promise<void>((resolve) => sts.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    sts.closeAllConnections();
    await new Promise((resolve) => sts.close(resolve));
    await proxy.stop();
    await emulator.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const stsPort = () => (sts.address() as { port: number }).port;
  const der = (pem: string) => new X509Certificate(pem).raw.toString('base64');

  /**
   * A folder with a client certificate of the emulator's CA (or `ca`'s), its key, a certificate config
   * naming them and an external_account file; `certificate` replaces the credential source's fields.
   */
  function setup(
    certificate?: (paths: { config: string; dir: string }) => Record<string, unknown>,
    ca: { issueClientCertificate(cn: string): { certPem: string; keyPem: string } } = emulator.ca,
  ) {
    const dir = mkdtempSync(join(root, 'case-'));
    const { certPem, keyPem } = ca.issueClientCertificate('workload');
    const certPath = join(dir, 'workload.crt');
    const keyPath = join(dir, 'workload.key');
    writeFileSync(certPath, certPem);
    writeFileSync(keyPath, keyPem, { mode: 0o600 });
    const config = join(dir, 'certificate_config.json');
    writeFileSync(
      config,
      JSON.stringify({ cert_configs: { workload: { cert_path: certPath, key_path: keyPath } } }),
    );
    const file = join(dir, 'external-account.json');
    writeFileSync(
      file,
      JSON.stringify({
        type: 'external_account',
        audience: AUDIENCE,
        subject_token_type: MTLS,
        token_url: `https://127.0.0.1:${stsPort()}/v1/token`,
        credential_source: {
          certificate: certificate?.({ config, dir }) ?? { certificate_config_location: config },
        },
      }),
    );
    return { dir, file, config, certPath, keyPath, certPem, keyPem };
  }

  const provider = (file: string, extra: Record<string, unknown> = {}) =>
    new GcpSecretManagerProvider({ ...emulator.providerOptions('rest'), credentialsFile: file, ...extra });

  /** connect, store and read back: the token of the mTLS exchange authenticates real calls. */
  async function roundTrip(file: string, vars: Record<string, string | undefined> = {}) {
    await withEnv(env(vars), async () => {
      const p = provider(file);
      try {
        await p.connect();
        const id = `x509-${Math.random().toString(36).slice(2)}`;
        await p.store(id, enc.encrypt(Buffer.from('x')), createMetadata());
        assert.ok(await p.exists(id));
      } finally {
        await p.close();
      }
    });
  }

  /** connect() fails; neither `secrets` nor the sentinel appear in its message, inspection or JSON. */
  async function connectFails(
    file: string,
    options: { vars?: Record<string, string | undefined>; secrets?: string[]; extra?: object } = {},
  ) {
    return withEnv(env(options.vars), async () => {
      const p = provider(file, { timeouts: { connectMs: 20_000 }, ...options.extra });
      try {
        const error = await rejectsWithStorageError(p.connect());
        for (const text of [error.message, inspect(error, { depth: 8 }), JSON.stringify(error)]) {
          for (const secret of [KEY_SENTINEL, ...(options.secrets ?? [])]) {
            assert.ok(!text.includes(secret), `key material leaked: ${text}`);
          }
        }
        return error;
      } finally {
        await p.close();
      }
    });
  }

  /** The base64 body of a PEM key: what must never reach a message. */
  const keyBody = (pem: string) => pem.split('\n').find((l) => l.length > 40) ?? pem;

  // Old code: refused at connect with InvalidConfig.
  it('certificate_config_location: the exchange presents the certificate and its token authorizes Secret Manager', async () => {
    const s = setup();
    const before = exchanges.length;
    await roundTrip(s.file);
    assert.deepEqual(exchanges.slice(before), [
      { authorized: true, peer: der(s.certPem), subject: [der(s.certPem)], type: MTLS },
    ]);
  });

  // Old code: refused at connect with InvalidConfig.
  it('service_account_impersonation_url: the impersonation call presents the certificate too', async () => {
    const s = setup();
    const json = JSON.parse(readFileSync(s.file, 'utf8')) as Record<string, unknown>;
    json['service_account_impersonation_url'] =
      `https://127.0.0.1:${stsPort()}/v1/projects/-/serviceAccounts/${emulator.serviceAccount.email}:generateAccessToken`;
    writeFileSync(s.file, JSON.stringify(json));
    const before = impersonations.length;
    await roundTrip(s.file);
    const seen = impersonations.slice(before);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.authorized, true);
    assert.match(seen[0]!.bearer, /^Bearer ./);
  });

  // Old code: refused at connect with InvalidConfig.
  it('use_default_certificate_config: GOOGLE_API_CERTIFICATE_CONFIG, else certificate_config.json in the gcloud folder', async () => {
    const s = setup(() => ({ use_default_certificate_config: true }));
    const before = exchanges.length;
    await roundTrip(s.file, { GOOGLE_API_CERTIFICATE_CONFIG: s.config });
    // The gcloud folder: CLOUDSDK_CONFIG (here), else ~/.config/gcloud.
    await roundTrip(s.file, { CLOUDSDK_CONFIG: s.dir });
    const home = mkdtempSync(join(root, 'home-'));
    mkdirSync(join(home, '.config', 'gcloud'), { recursive: true });
    writeFileSync(
      join(home, '.config', 'gcloud', 'certificate_config.json'),
      JSON.stringify({ cert_configs: { workload: { cert_path: s.certPath, key_path: s.keyPath } } }),
    );
    await roundTrip(s.file, { HOME: home });
    assert.equal(exchanges.slice(before).filter((e) => e.authorized).length, 3);
    // Without any of them: InvalidConfig naming the file looked for and how to name another.
    const empty = mkdtempSync(join(root, 'empty-'));
    const error = await connectFails(s.file, { vars: { HOME: empty } });
    assert.equal(error.code, 'InvalidConfig', error.message);
    assert.ok(
      error.message.includes(join(empty, '.config', 'gcloud', 'certificate_config.json')),
      error.message,
    );
    assert.match(error.message, /does not exist; set GOOGLE_API_CERTIFICATE_CONFIG/);
  });

  // Old code: refused at connect with InvalidConfig.
  it('trust_chain_path: the subject token is the leaf, then the chain; a leaf not first is InvalidConfig', async () => {
    const ca = emulator.ca.caCertPem;
    const cases: [string, (leaf: string) => string, (leaf: string) => string[]][] = [
      ['leaf absent', () => ca, (leaf) => [der(leaf), der(ca)]],
      ['leaf first', (leaf) => `${leaf}${ca}`, (leaf) => [der(leaf), der(ca)]],
    ];
    for (const [, chain, expected] of cases) {
      const s = setup(({ config, dir }) => {
        const path = join(dir, 'chain.pem');
        return { certificate_config_location: config, trust_chain_path: path };
      });
      writeFileSync(join(s.dir, 'chain.pem'), chain(s.certPem));
      const before = exchanges.length;
      await roundTrip(s.file);
      assert.deepEqual(
        exchanges.slice(before).map((e) => e.subject),
        [expected(s.certPem)],
      );
    }
    const s = setup(({ config, dir }) => ({
      certificate_config_location: config,
      trust_chain_path: join(dir, 'chain.pem'),
    }));
    writeFileSync(join(s.dir, 'chain.pem'), `${ca}${s.certPem}`);
    const before = exchanges.length;
    const error = await connectFails(s.file);
    assert.equal(error.code, 'InvalidConfig', error.message);
    assert.match(error.message, /trust_chain_path.*position 1/);
    assert.equal(error.details['option'], 'credential_source.certificate.trust_chain_path');
    assert.equal(exchanges.length, before, 'nothing may be exchanged');
  });

  it('mutual TLS is what authorizes: STS refuses a request without a client certificate, or with a foreign one', async () => {
    // The same STS server, asked without a certificate: refused.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `https://127.0.0.1:${stsPort()}/v1/token`,
        { method: 'POST', ca: emulator.ca.caCertPem },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('subject_token=%5B%5D');
    });
    assert.equal(status, 401);
    // A certificate another CA issued: presented, but not trusted, so connect fails.
    const other = createTestCertificateAuthority();
    try {
      const s = setup(undefined, other);
      const before = exchanges.length;
      const error = await connectFails(s.file, { secrets: [keyBody(s.keyPem)] });
      assert.notEqual(error.code, 'InvalidConfig', error.message);
      const seen = exchanges.slice(before);
      assert.ok(seen.length >= 1);
      assert.ok(seen.every((e) => !e.authorized && e.peer === der(s.certPem)));
    } finally {
      other.dispose();
    }
  });

  // A client certificate does not take the exchange off the proxy: the tunnel carries the mutual TLS.
  it('with HTTPS_PROXY the mTLS exchange goes through the core tunnel', async () => {
    const s = setup();
    proxy.mode = 'tunnel';
    const targets = proxy.targets.length;
    const foreign = proxy.foreignClients;
    const before = exchanges.length;
    await roundTrip(s.file, { HTTPS_PROXY: proxy.url() });
    assert.ok(
      proxy.targets.slice(targets).includes(`127.0.0.1:${stsPort()}`),
      `no tunnel to STS: ${proxy.targets.slice(targets).join(', ')}`,
    );
    assert.equal(proxy.foreignClients, foreign);
    assert.deepEqual(
      exchanges.slice(before).map((e) => e.authorized && e.peer === der(s.certPem)),
      [true],
    );
  });

  it('an endless STS answer is cut with Unavailable and limitBytes, not retried', async () => {
    const s = setup();
    stsMode = 'endless';
    stsSent = 0;
    const before = exchanges.length;
    try {
      const error = await connectFails(s.file, { secrets: [keyBody(s.keyPem)] });
      assert.equal(error.code, 'Unavailable', error.message);
      assert.equal(error.retryable, false);
      assert.equal(error.details['limitBytes'], TOKEN_RESPONSE_LIMIT);
    } finally {
      stsMode = 'ok';
    }
    assert.equal(exchanges.length - before, 1, 'the exchange was retried');
    assert.ok(stsSent < HUGE / 2, `the client read on: ${stsSent} of ${HUGE}`);
  });

  it('a FIFO or an oversize certificate file is InvalidConfig naming it, at once', async () => {
    const s = setup();
    rmSync(s.certPath);
    execFileSync('mkfifo', ['-m', '600', s.certPath]);
    const started = Date.now();
    const fifo = await connectFails(s.file);
    assert.equal(fifo.code, 'InvalidConfig', fifo.message);
    assert.ok(fifo.message.includes(JSON.stringify(s.certPath)), fifo.message);
    assert.match(fifo.message, /FIFO/);
    assert.equal(fifo.details['option'], 'cert_configs.workload.cert_path');
    assert.ok(Date.now() - started < 5000, 'the FIFO was waited on');

    const big = setup();
    writeFileSync(big.keyPath, Buffer.alloc(FILE_SIZE_LIMITS.keyFile + 1, 0x41));
    const oversize = await connectFails(big.file);
    assert.equal(oversize.code, 'InvalidConfig', oversize.message);
    assert.ok(oversize.message.includes(JSON.stringify(big.keyPath)), oversize.message);
    assert.equal(oversize.details['limit'], FILE_SIZE_LIMITS.keyFile);

    const config = setup();
    rmSync(config.config);
    execFileSync('mkfifo', ['-m', '600', config.config]);
    const fifoConfig = await connectFails(config.file);
    assert.equal(fifoConfig.code, 'InvalidConfig', fifoConfig.message);
    assert.equal(fifoConfig.details['option'], 'credential_source.certificate.certificate_config_location');
  });

  it('a malformed config, certificate or key is InvalidConfig; no key material reaches an error', async () => {
    const sentinelKey = `-----BEGIN PRIVATE KEY-----\n${KEY_SENTINEL}${'A'.repeat(40)}\n-----END PRIVATE KEY-----\n`;
    const cases: [string, (s: ReturnType<typeof setup>) => void, RegExp][] = [
      ['key', (s) => writeFileSync(s.keyPath, sentinelKey), /private key .* is not an unencrypted PEM/],
      [
        'key of another certificate',
        (s) => writeFileSync(s.keyPath, emulator.ca.issueClientCertificate('other').keyPem),
        /is not the key of the certificate/,
      ],
      ['certificate', (s) => writeFileSync(s.certPath, 'not a certificate'), /not a PEM or DER certificate/],
      ['config', (s) => writeFileSync(s.config, '{"cert_configs":'), /is not JSON/],
      ['config fields', (s) => writeFileSync(s.config, '{"cert_configs":{}}'), /no cert_configs.workload/],
    ];
    for (const [what, spoil, pattern] of cases) {
      const s = setup();
      spoil(s);
      const before = exchanges.length;
      const error = await connectFails(s.file, { secrets: [keyBody(s.keyPem)] });
      assert.equal(error.code, 'InvalidConfig', `${what}: ${error.message}`);
      assert.match(error.message, pattern, what);
      assert.equal(exchanges.length, before, `${what}: something was exchanged`);
    }
    // Neither or both of use_default_certificate_config and certificate_config_location.
    for (const certificate of [
      {},
      { use_default_certificate_config: true, certificate_config_location: '/x' },
    ]) {
      const s = setup(() => certificate);
      const error = await connectFails(s.file);
      assert.equal(error.code, 'InvalidConfig', error.message);
      assert.match(error.message, /exactly one of use_default_certificate_config/);
    }
    // A working connection holds the key in its agent, but shows it nowhere.
    const s = setup();
    await withEnv(env(), async () => {
      const p = provider(s.file);
      try {
        await p.connect();
        for (const text of [inspect(p, { depth: 8 }), JSON.stringify(p) ?? '']) {
          assert.ok(!text.includes(keyBody(s.keyPem)), 'the key leaked from the provider');
        }
      } finally {
        await p.close();
      }
    });
  });
});
