// Every Google token request of the provider goes through its bounded token transport: the service-account
// grant and google-auth-library's workload identity federation (STS) alike reach an https endpoint through
// the core CONNECT tunnel when HTTPS_PROXY applies (NO_PROXY respected; https-proxy-agent never used), the
// metadata server is never proxied, and an endless token answer is cut at the bound.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EncryptionManager } from '../../src/core/crypto.js';
import { createMetadata } from '../../src/core/metadata.js';
import { PROXY_HEAD_LIMIT } from '../../src/core/proxy-tunnel.js';
import { GcpSecretManagerProvider } from '../../src/providers/gcp-secret-manager.js';
import { TOKEN_RESPONSE_LIMIT } from '../../src/providers/gcp-secret-manager-token-http.js';
import { rejectsWithStorageError } from '../../src/testing/assertions.js';
import { GcpSecretManagerEmulator } from '../../src/testing/emulators/gcp.js';
import { withEnv } from './env-helpers.js';
import { sendEndlessTokenAnswer, stsTokenAnswer } from './gcp-helpers.js';
import { assertNoSentinel, SENTINEL, TestProxy } from './proxy-helpers.js';

const SUBJECT_TOKEN = 'SENTINEL-subject-token-4e8c';
const HUGE = 96 * 1024 * 1024;

/** Every variable that could route a request elsewhere, cleared; then `vars`. */
const env = (vars: Record<string, string | undefined>) => ({
  HTTPS_PROXY: undefined,
  https_proxy: undefined,
  HTTP_PROXY: undefined,
  http_proxy: undefined,
  ALL_PROXY: undefined,
  all_proxy: undefined,
  NO_PROXY: undefined,
  no_proxy: undefined,
  grpc_proxy: undefined,
  GOOGLE_APPLICATION_CREDENTIALS: undefined,
  ...vars,
});

describe('GCP token requests: bounded transport and the core proxy tunnel', () => {
  const proxy = new TestProxy();
  let emulator: GcpSecretManagerEmulator;
  let sts: Server;
  let stsMode: 'ok' | 'endless' = 'ok';
  let stsSent = 0;
  const stsSubjects: string[] = [];
  let dir: string;
  const enc = EncryptionManager.generate();

  before(async () => {
    emulator = await new GcpSecretManagerEmulator().start();
    await proxy.start();
    dir = mkdtempSync(join(tmpdir(), 'nebula-gcp-proxy-'));
    // An STS token exchange, on the emulator's certificate (so the provider's CA trusts it).
    sts = createServer({ cert: emulator.ca.serverCertPem, key: emulator.ca.serverKeyPem }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c;
      });
      req.on('end', () => {
        stsSubjects.push(new URLSearchParams(body).get('subject_token') ?? '');
        res.writeHead(200, { 'content-type': 'application/json' });
        if (stsMode === 'ok') {
          res.end(stsTokenAnswer(emulator));
          return;
        }
        sendEndlessTokenAnswer(res, HUGE, (bytes) => {
          stsSent += bytes;
        });
      });
    });
    await new Promise<void>((resolve) => sts.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    sts.closeAllConnections();
    await new Promise((resolve) => sts.close(resolve));
    await proxy.stop();
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const stsPort = () => (sts.address() as { port: number }).port;
  const externalAccountFile = () => {
    const subject = join(dir, 'subject-token');
    writeFileSync(subject, SUBJECT_TOKEN);
    const file = join(dir, 'external-account.json');
    writeFileSync(
      file,
      JSON.stringify({
        type: 'external_account',
        audience: '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x',
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        token_url: `https://127.0.0.1:${stsPort()}/v1/token`,
        credential_source: { file: subject },
      }),
    );
    return file;
  };

  /** connect, store and read back: the token the transport fetched authenticates real calls. */
  async function roundTrip(options: Record<string, unknown>): Promise<void> {
    const provider = new GcpSecretManagerProvider({ ...emulator.providerOptions('rest'), ...options });
    try {
      await provider.connect();
      await provider.store(
        `proxied-${Math.random().toString(36).slice(2)}`,
        enc.encrypt(Buffer.from('x')),
        createMetadata(),
      );
    } finally {
      await provider.close();
    }
  }

  const tokenTarget = () => `127.0.0.1:${emulator.port}`;

  it('the service-account grant goes through the core tunnel, with the proxy credentials', async () => {
    proxy.mode = 'tunnel';
    const before = proxy.targets.length;
    await withEnv(env({ HTTPS_PROXY: proxy.url() }), () => roundTrip({}));
    const targets = proxy.targets.slice(before);
    assert.ok(targets.includes(tokenTarget()), `no tunnel to the token endpoint: ${targets.join(', ')}`);
    assert.equal(proxy.foreignClients, 0);
    assert.equal(proxy.authorizations.at(-1), `Basic ${Buffer.from(`user:${SENTINEL}`).toString('base64')}`);
  });

  it('NO_PROXY listing the token host: the grant connects directly', async () => {
    proxy.mode = 'tunnel';
    const before = proxy.targets.length;
    await withEnv(env({ HTTPS_PROXY: proxy.url(), NO_PROXY: '127.0.0.1' }), () => roundTrip({}));
    assert.deepEqual(proxy.targets.slice(before), []);
  });

  it('an endless CONNECT head fails connect() with Unavailable and limitBytes, the password nowhere', async () => {
    proxy.mode = 'endless-head';
    await withEnv(env({ HTTPS_PROXY: proxy.url() }), async () => {
      const provider = new GcpSecretManagerProvider({
        ...emulator.providerOptions('rest'),
        timeouts: { connectMs: 10_000 },
      });
      try {
        const error = await rejectsWithStorageError(provider.connect());
        assert.equal(error.code, 'Unavailable', error.message);
        assert.equal(error.details['limitBytes'], PROXY_HEAD_LIMIT);
        assertNoSentinel(error);
      } finally {
        await provider.close();
      }
    });
    assert.ok(proxy.headBytesSent < 32 * 1024 * 1024, `read on: ${proxy.headBytesSent}`);
  });

  it('the metadata server is never proxied', async () => {
    proxy.mode = 'endless-head';
    const home = mkdtempSync(join(dir, 'home-'));
    await withEnv(
      env({
        HTTPS_PROXY: proxy.url(),
        HTTP_PROXY: proxy.url(),
        HOME: home,
        CLOUDSDK_CONFIG: home,
        ...emulator.metadataEnvironment(),
      }),
      () => roundTrip({ credentialsFile: undefined, timeouts: { connectMs: 10_000 } }),
    );
  });

  it('workload identity federation: the STS exchange goes through the core tunnel, not https-proxy-agent', async () => {
    proxy.mode = 'tunnel';
    stsMode = 'ok';
    const before = proxy.targets.length;
    const foreign = proxy.foreignClients;
    await withEnv(env({ HTTPS_PROXY: proxy.url() }), () =>
      roundTrip({ credentialsFile: externalAccountFile() }),
    );
    assert.equal(stsSubjects.at(-1), SUBJECT_TOKEN);
    const targets = proxy.targets.slice(before);
    assert.ok(targets.includes(`127.0.0.1:${stsPort()}`), `no tunnel to STS: ${targets.join(', ')}`);
    assert.equal(proxy.foreignClients, foreign);
  });

  // Old code: gaxios sent the exchange three times (its retries of a request without an answer).
  it('workload identity federation: an endless STS answer is cut with Unavailable and limitBytes, once', async () => {
    stsMode = 'endless';
    stsSent = 0;
    const exchanges = stsSubjects.length;
    await withEnv(env({}), async () => {
      const provider = new GcpSecretManagerProvider({
        ...emulator.providerOptions('rest'),
        credentialsFile: externalAccountFile(),
        retry: { maxRetries: 0 },
        timeouts: { connectMs: 20_000 },
      });
      try {
        const error = await rejectsWithStorageError(provider.connect());
        assert.equal(error.code, 'Unavailable', error.message);
        assert.equal(error.retryable, false);
        assert.equal(error.details['limitBytes'], TOKEN_RESPONSE_LIMIT);
        assert.ok(!JSON.stringify(error).includes(SUBJECT_TOKEN));
        assert.ok(!error.message.includes(SUBJECT_TOKEN));
      } finally {
        await provider.close();
      }
    });
    assert.equal(stsSubjects.length - exchanges, 1, 'the cut exchange was retried');
    assert.ok(stsSent < HUGE / 2, `the client read on: ${stsSent} of ${HUGE}`);
  });
});
