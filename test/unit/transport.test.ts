import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { ManualClock } from '../../src/core/clock.js';
import { StorageError } from '../../src/core/errors.js';
import { StorageMetrics } from '../../src/core/metrics.js';
import { defineProviderOptions } from '../../src/core/options.js';
import { option } from '../../src/core/options-schema.js';
import {
  backendError,
  classifyHttpStatus,
  classifyTransportFailure,
  retryAfterMs,
  transportError,
} from '../../src/core/transport.js';
import {
  assertSecureEndpoint,
  checkEndpoint,
  isLoopbackHost,
  loadCaBundle,
  pemCertificatesProblem,
  tlsOptions,
} from '../../src/core/transport-security.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';
import { closedLoopbackPort } from '../../src/testing/emulator-kit/server.js';
import { createTestCertificateAuthority } from '../../src/testing/emulator-kit/tls.js';

const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });
const context = { provider: 'example', operation: 'retrieve', service: 'the example service' } as const;

/** The error a real Node.js https request raises against `url`, with `ca` as its only trust root. */
function realRequestError(url: string, ca?: string): Promise<unknown> {
  return new Promise((resolve) => {
    const req = httpsRequest(url, { ...(ca ? { ca } : {}), agent: false }, (res) => {
      res.resume();
      resolve(undefined);
    });
    req.on('error', resolve);
    req.end();
  });
}

describe('transport failures: classification by code, anywhere in the cause chain', () => {
  it('knows every family of network and TLS codes', () => {
    const expected: [string, string][] = [
      ['ECONNREFUSED', 'refused'],
      ['ECONNRESET', 'reset'],
      ['EPIPE', 'reset'],
      ['ECONNABORTED', 'reset'],
      ['UND_ERR_SOCKET', 'reset'],
      ['ENOTFOUND', 'dns-not-found'],
      ['EAI_AGAIN', 'dns-temporary'],
      ['ETIMEDOUT', 'timeout'],
      ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
      ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
      ['EHOSTUNREACH', 'unreachable'],
      ['ENETUNREACH', 'unreachable'],
      ['ERR_HTTP2_STREAM_ERROR', 'protocol'],
      ['ERR_HTTP2_GOAWAY_SESSION', 'protocol'],
      ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'certificate'],
      ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'certificate'],
      ['SELF_SIGNED_CERT_IN_CHAIN', 'certificate'],
      ['DEPTH_ZERO_SELF_SIGNED_CERT', 'certificate'],
      ['CERT_HAS_EXPIRED', 'certificate'],
      ['CERT_NOT_YET_VALID', 'certificate'],
      ['ERR_TLS_CERT_ALTNAME_INVALID', 'certificate'],
      ['ERR_SSL_WRONG_VERSION_NUMBER', 'tls-handshake'],
      ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'tls-handshake'],
      ['EPROTO', 'tls-handshake'],
    ];
    for (const [code, kind] of expected) {
      assert.deepEqual(classifyTransportFailure(coded(code)), { kind, code }, code);
    }
    assert.equal(classifyTransportFailure(coded('ENOENT')), undefined);
    assert.equal(classifyTransportFailure('ECONNREFUSED'), undefined);
    assert.equal(classifyTransportFailure(undefined), undefined);
  });

  it('walks cause chains and AggregateErrors, and survives cycles', () => {
    const sdk = new Error('request failed', {
      cause: new Error('wrapped', { cause: coded('CERT_HAS_EXPIRED') }),
    });
    assert.equal(classifyTransportFailure(sdk)?.kind, 'certificate');
    const aggregate = new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], 'all failed');
    assert.equal(classifyTransportFailure(aggregate)?.code, 'ECONNREFUSED');
    const loop: { cause?: unknown } = {};
    loop.cause = loop;
    assert.equal(classifyTransportFailure(loop), undefined);
  });

  it('classifies what Node.js really raises: an untrusted certificate and a refused port', async () => {
    const ca = createTestCertificateAuthority();
    const other = createTestCertificateAuthority();
    const { createServer: createHttpsServer } = await import('node:https');
    const server = createHttpsServer({ cert: ca.serverCertPem, key: ca.serverKeyPem }, (_q, r) =>
      r.end('ok'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      assert.equal(await realRequestError(`https://127.0.0.1:${port}/`, ca.caCertPem), undefined);
      const untrusted = await realRequestError(`https://127.0.0.1:${port}/`, other.caCertPem);
      assert.equal(classifyTransportFailure(untrusted)?.kind, 'certificate');
      const noCa = await realRequestError(`https://127.0.0.1:${port}/`);
      assert.equal(classifyTransportFailure(noCa)?.kind, 'certificate');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    const refused = await realRequestError(`https://127.0.0.1:${await closedLoopbackPort()}/`);
    assert.equal(classifyTransportFailure(refused)?.kind, 'refused');
  });
});

describe('transportError: one decision per failure for every provider', () => {
  it('makes an untrusted certificate InvalidConfig, not retryable, naming tls.caFile', () => {
    const error = transportError(coded('SELF_SIGNED_CERT_IN_CHAIN'), context)!;
    assert.equal(error.code, 'InvalidConfig');
    assert.equal(error.retryable, false);
    assert.match(error.message, /tls\.caFile/);
    assert.deepEqual(
      error.details.issues?.map((i) => i.path),
      ['tls.caFile'],
    );
    assert.equal(error.details.backendCode, 'SELF_SIGNED_CERT_IN_CHAIN');
    const name = transportError(coded('ERR_TLS_CERT_ALTNAME_INVALID'), context)!;
    assert.equal(name.code, 'InvalidConfig');
    assert.match(name.message, /host name/);
    assert.match(
      transportError(coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), {
        ...context,
        trustHint: 'fix the kubeconfig',
      })!.message,
      /fix the kubeconfig/,
    );
  });

  it('makes an unresolvable host Unavailable but not retryable; a busy resolver retryable', () => {
    const missing = transportError(coded('ENOTFOUND'), { ...context, endpointSource: 'the address option' })!;
    assert.equal(missing.code, 'Unavailable');
    assert.equal(missing.retryable, false);
    assert.match(missing.message, /check the address option/);
    const busy = transportError(coded('EAI_AGAIN'), context)!;
    assert.equal(busy.code, 'Unavailable');
    assert.equal(busy.retryable, true);
  });

  it('retries refused, reset, timed out, unreachable and broken connections', () => {
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EHOSTUNREACH',
      'ERR_HTTP2_STREAM_ERROR',
    ]) {
      const error = transportError(coded(code), context)!;
      assert.equal(error.code, 'Unavailable', code);
      assert.equal(error.retryable, true, code);
      assert.equal(error.details.backendCode, code);
    }
    assert.equal(transportError(coded('ENOENT'), context), undefined);
  });

  it('keeps the raw error out of the message, inspection and JSON', () => {
    const secret = 'Bearer sentinel-token-4711';
    const error = transportError(coded('ECONNRESET', `socket hang up with ${secret}`), {
      ...context,
      details: { secretName: 'api_key' },
    })!;
    assert.equal(error.details.secretName, 'api_key');
    assert.ok(!error.message.includes(secret));
    assert.ok(!inspect(error).includes(secret));
    assert.ok(!JSON.stringify(error).includes(secret));
  });
});

describe('default HTTP status mapping', () => {
  it('gives the same code and retryable for a status on every provider', () => {
    const table: [number, string, boolean][] = [
      [400, 'Internal', false],
      [401, 'AuthenticationFailed', false],
      [403, 'PermissionDenied', false],
      [404, 'NotFound', false],
      [408, 'Unavailable', true],
      [409, 'Conflict', false],
      [412, 'Conflict', false],
      [413, 'SizeLimitExceeded', false],
      [429, 'RateLimited', true],
      [500, 'Unavailable', true],
      [501, 'Unsupported', false],
      [502, 'Unavailable', true],
      [503, 'Unavailable', true],
      [504, 'Unavailable', true],
      [505, 'Unsupported', false],
      [418, 'Internal', false],
    ];
    for (const [status, code, retryable] of table) {
      assert.deepEqual(classifyHttpStatus(status), { code, retryable }, String(status));
      const error = backendError({ ...context, status });
      assert.equal(error.code, code);
      assert.equal(error.retryable, retryable);
      assert.equal(error.details.status, status);
    }
  });

  it('lets the provider refine the code and wording, and keeps the wait only where it applies', () => {
    const refined = backendError({ ...context, status: 400, code: 'Conflict', message: 'cas mismatch' });
    assert.equal(refined.code, 'Conflict');
    assert.equal(refined.message, 'cas mismatch');
    assert.equal(backendError({ ...context, status: 429, retryAfterMs: 2000 }).details.retryAfterMs, 2000);
    assert.equal(backendError({ ...context, status: 503, retryAfterMs: 10 }).details.retryAfterMs, 10);
    assert.equal(backendError({ ...context, status: 403, retryAfterMs: 10 }).details.retryAfterMs, undefined);
    assert.equal(
      backendError({ ...context, status: 400, code: 'RateLimited', retryAfterMs: 5 }).details.retryAfterMs,
      5,
    );
    assert.equal(
      backendError({ ...context, status: 404, credentialId: 'api_key' }).message,
      'credential "api_key" does not exist in example',
    );
    assert.equal(backendError({ ...context }).code, 'Internal');
  });
});

describe('retryAfterMs', () => {
  const now = Date.UTC(2026, 0, 1);
  it('reads delta-seconds, HTTP dates against the given clock, and the millisecond headers', () => {
    assert.equal(retryAfterMs({ 'retry-after': '2' }, now), 2000);
    assert.equal(retryAfterMs({ 'Retry-After': '0' }, now), 0);
    assert.equal(retryAfterMs({ 'retry-after': '1.5' }, now), 1500);
    assert.equal(retryAfterMs({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, now), 5000);
    assert.equal(retryAfterMs({ 'retry-after': 'Wed, 31 Dec 2025 23:59:00 GMT' }, now), 0);
    assert.equal(retryAfterMs({ 'x-amz-retry-after': '750', 'retry-after': '9' }, now), 750);
    assert.equal(retryAfterMs({ 'retry-after-ms': '250' }, now), 250);
    assert.equal(retryAfterMs({ 'x-ms-retry-after-ms': '40' }, now), 40);
    assert.equal(retryAfterMs({ 'retry-after': ['3'] }, now), 3000);
  });

  it('accepts get()-style headers and ignores what is not a wait', () => {
    const headers = new Headers({ 'Retry-After': '4' });
    assert.equal(retryAfterMs(headers, now), 4000);
    assert.equal(retryAfterMs({ get: () => null }, now), undefined);
    assert.equal(retryAfterMs({ 'retry-after': 'soon' }, now), undefined);
    assert.equal(retryAfterMs({ 'retry-after': '-1' }, now), undefined);
    assert.equal(retryAfterMs({}, now), undefined);
    assert.equal(retryAfterMs(undefined, now), undefined);
  });
});

describe('the https-only rule', () => {
  it('recognises loopback hosts, and nothing else', () => {
    for (const host of ['localhost', 'LOCALHOST', 'localhost.', '127.0.0.1', '127.8.9.10', '::1', '[::1]']) {
      assert.equal(isLoopbackHost(host), true, host);
    }
    assert.equal(isLoopbackHost(new URL('http://[::ffff:127.0.0.1]:1').hostname), true);
    for (const host of [
      'vault.internal',
      '128.0.0.1',
      '10.0.0.1',
      'localhost.example.com',
      'app.localhost',
      '::2',
      '[::ffff:10.0.0.1]',
      '127.0.0.1.nip.io',
      '',
    ]) {
      assert.equal(isLoopbackHost(host), false, host);
    }
  });

  it('allows https anywhere, http to loopback, and http elsewhere only with the opt-in', () => {
    assert.ok(checkEndpoint('https://vault.internal:8200', false).url);
    assert.ok(checkEndpoint('http://127.0.0.1:8200', false).url);
    assert.ok(checkEndpoint('http://[::1]:8200', false).url);
    assert.match(
      String(checkEndpoint('http://vault.internal:8200', false).problem),
      /dangerouslyAllowInsecureHttp/,
    );
    assert.ok(checkEndpoint('http://vault.internal:8200', true).url);
    assert.match(String(checkEndpoint('ftp://vault.internal', true).problem), /https/);
    assert.match(String(checkEndpoint('vault.internal:8200', false).problem), /URL/);
  });

  it('names the source of a refused endpoint, without credentials from the URL', () => {
    const error = (() => {
      try {
        assertSecureEndpoint('http://user:pa55word@10.1.2.3:4566/?token=abc', {
          provider: 'aws-secrets-manager',
          source: 'AWS_ENDPOINT_URL',
          allowInsecureHttp: false,
        });
      } catch (e) {
        return e as StorageError;
      }
      assert.fail('expected InvalidConfig');
    })();
    assert.equal(error.code, 'InvalidConfig');
    assert.match(error.message, /^AWS_ENDPOINT_URL \(http:\/\/10\.1\.2\.3:4566\)/);
    assert.equal(error.details.source, 'AWS_ENDPOINT_URL');
    assert.ok(!error.message.includes('pa55word') && !error.message.includes('abc'));
  });
});

describe('CA bundles', () => {
  const ca = createTestCertificateAuthority();
  const other = createTestCertificateAuthority();

  it('checks PEM text certificate by certificate', () => {
    assert.equal(pemCertificatesProblem(ca.caCertPem), undefined);
    assert.equal(pemCertificatesProblem(`# comment\n${ca.caCertPem}\n${other.caCertPem}`), undefined);
    assert.match(String(pemCertificatesProblem('not a pem')), /no PEM certificate/);
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    assert.match(String(pemCertificatesProblem(`${ca.caCertPem}${broken}`)), /certificate 2 of 2/);
  });

  it('validates the tls option object with every problem at once', () => {
    const schema = defineProviderOptions('example', {
      tls: tlsOptions(
        { caFile: 'CA file' },
        { rejectUnauthorized: option.boolean({ doc: 'verify', default: true }) },
      ),
    });
    const paths = (options: unknown) => {
      try {
        schema.resolve(options, { env: {} });
      } catch (error) {
        return ((error as StorageError).details.issues ?? []).map((i) => i.path);
      }
      return [];
    };
    assert.deepEqual(paths({ tls: { ca: 'nope', caFil: '/x', rejectUnauthorized: false } }), [
      'tls.caFil',
      'tls.ca',
    ]);
    assert.deepEqual(paths({ tls: '/etc/ca.pem' }), ['tls']);
  });

  it('loads tls.ca and tls.caFile together, and refuses a file that is not PEM, naming the option', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nebula-transport-'));
    const file = join(dir, 'ca.pem');
    writeFileSync(file, other.caCertPem);
    const both = await loadCaBundle({ ca: ca.caCertPem, caFile: file }, { provider: 'example' });
    assert.ok(both?.includes(ca.caCertPem.trim()) && both.includes(other.caCertPem.trim()));
    assert.equal(await loadCaBundle(undefined, { provider: 'example' }), undefined);
    assert.equal(await loadCaBundle({}, { provider: 'example' }), undefined);

    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'sentinel-not-a-certificate');
    await assert.rejects(
      loadCaBundle({ caFile: garbage }, { provider: 'example', fileSource: 'AWS_CA_BUNDLE' }),
      (e: unknown) =>
        e instanceof StorageError &&
        e.code === 'InvalidConfig' &&
        e.message.includes('AWS_CA_BUNDLE') &&
        !e.message.includes('sentinel') &&
        e.details.issues?.[0]?.path === 'AWS_CA_BUNDLE',
    );
    await assert.rejects(
      loadCaBundle({ caFile: join(dir, 'missing.pem') }, { provider: 'example' }),
      (e: unknown) =>
        e instanceof StorageError && e.code === 'InvalidConfig' && /tls\.caFile/.test(e.message),
    );
    const aborted = AbortSignal.abort();
    await assert.rejects(
      loadCaBundle({ caFile: file }, { provider: 'example', signal: aborted }),
      (e: unknown) => e instanceof StorageError && e.code === 'Aborted',
    );
  });
});

class ExtendedMemoryProvider extends MemoryStorageProvider {
  backendCalls = 0;
  failures: unknown[] = [];

  /** A provider-only operation, as Azure's purge or Vault's version history are. */
  touch(id: string): Promise<string> {
    return this.runProviderOperation('touch', id, async (cid) => {
      this.backendCalls++;
      const failure = this.failures.shift();
      if (failure) throw failure;
      return cid.value;
    });
  }

  count(): Promise<number> {
    return this.runProviderOperation('count', undefined, async () => this.list().then((ids) => ids.length));
  }
}

describe('runProviderOperation: provider-only methods run like contract ones', () => {
  it('checks the id before any I/O, retries through the runner, records metrics and refuses when closed', async () => {
    const metrics = new StorageMetrics();
    const clock = new ManualClock(0, { autoAdvance: true });
    const provider = new ExtendedMemoryProvider({ metrics, clock, retry: { maxRetries: 2 } });
    await assert.rejects(provider.touch('not a valid id!'), (e: unknown) => {
      assert.ok(e instanceof StorageError);
      assert.equal(e.code, 'InvalidId');
      assert.equal(e.operation, 'touch');
      assert.equal(e.provider, 'memory');
      return true;
    });
    assert.equal(provider.backendCalls, 0);

    provider.failures.push(new StorageError({ code: 'Unavailable', message: 'blip' }));
    assert.equal(await provider.touch('api_key'), 'api_key');
    assert.equal(provider.backendCalls, 2);
    assert.equal(clock.sleeps.length, 1);
    const touch = metrics.snapshot().find((s) => s.operation === 'touch');
    assert.equal(touch?.count, 1);
    assert.equal(touch?.retries, 1);

    provider.failures.push(new TypeError('unexpected'));
    await assert.rejects(provider.touch('api_key'), (e: unknown) => {
      assert.ok(e instanceof StorageError);
      assert.equal(e.code, 'Internal');
      assert.equal(e.credentialId, 'api_key');
      return true;
    });
    assert.equal(await provider.count(), 0);

    await provider.close();
    await assert.rejects(
      provider.touch('api_key'),
      (e: unknown) => e instanceof StorageError && e.code === 'Unsupported',
    );
    await assert.rejects(
      provider.count(),
      (e: unknown) => e instanceof StorageError && e.code === 'Unsupported',
    );
  });
});
