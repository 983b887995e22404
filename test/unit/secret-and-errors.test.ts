import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { format, inspect } from 'node:util';
import { isStorageError, StorageError, toStorageError } from '../../src/core/errors.js';
import { redact } from '../../src/core/logger.js';
import { SecretString } from '../../src/core/secret-string.js';

const SENTINEL = 'SENTINEL-5f1e2d3c4b5a';

describe('SecretString', () => {
  it('shows [REDACTED] in every implicit rendering', () => {
    const s = new SecretString(SENTINEL);
    const renderings = [
      String(s),
      `${s}`,
      s + '',
      JSON.stringify({ s }),
      inspect(s),
      inspect({ nested: { s } }, { depth: 10 }),
      format('%s %o %O %j', s, s, s, s),
    ];
    for (const text of renderings) {
      assert.ok(!text.includes(SENTINEL), text);
      assert.ok(text.includes('[REDACTED]'), text);
    }
  });

  it('does not leak through console.log', () => {
    const lines: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      console.log(new SecretString(SENTINEL));
      console.log('value: %s', new SecretString(SENTINEL));
    } finally {
      process.stdout.write = original;
    }
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => !l.includes(SENTINEL) && l.includes('[REDACTED]')));
  });

  it('reads only through explicit calls', () => {
    const s = new SecretString(SENTINEL);
    assert.equal(s.expose(), SENTINEL);
    assert.equal(
      s.use((v) => v.length),
      SENTINEL.length,
    );
    assert.ok(s.exposeBytes().equals(Buffer.from(SENTINEL)));
    assert.equal(s.length, Buffer.byteLength(SENTINEL));
    assert.ok(s.equals(SENTINEL));
    assert.ok(!s.equals(`${SENTINEL}x`));
  });

  it('wipes its bytes on dispose and refuses reads afterwards', () => {
    const owned = Buffer.from(SENTINEL);
    const s = SecretString.fromOwnedBuffer(owned);
    s.dispose();
    assert.ok(owned.every((b) => b === 0));
    assert.throws(() => s.expose(), StorageError);
    s.dispose();
    {
      using scoped = new SecretString('x');
      assert.equal(scoped.expose(), 'x');
    }
  });

  it('wipes the temporary copy handed to useBytes, also for async callbacks', async () => {
    const s = new SecretString(SENTINEL);
    let seen: Buffer | undefined;
    await s.useBytes(async (b) => {
      seen = b;
      assert.ok(b.equals(Buffer.from(SENTINEL)));
    });
    assert.ok(seen?.every((b) => b === 0));
  });
});

describe('StorageError', () => {
  const causeWithSecrets = Object.assign(new Error(`request failed with token ${SENTINEL}`), {
    name: 'RestError',
    statusCode: 403,
    request: { headers: { authorization: `Bearer ${SENTINEL}` } },
  });
  const error = new StorageError({
    code: 'PermissionDenied',
    message: 'caller may not read credential "db" (needs Key Vault Secrets User)',
    provider: 'azure-key-vault',
    operation: 'retrieve',
    credentialId: 'db',
    details: { status: 403, requiredRole: 'Key Vault Secrets User' },
    cause: causeWithSecrets,
  });

  it('carries code, provider, operation, id, retryable and details', () => {
    assert.equal(error.code, 'PermissionDenied');
    assert.equal(error.retryable, false);
    assert.equal(error.details.requiredRole, 'Key Vault Secrets User');
    assert.equal(error.cause, causeWithSecrets);
    assert.equal(new StorageError({ code: 'Unavailable', message: 'x' }).retryable, true);
    assert.equal(new StorageError({ code: 'RateLimited', message: 'x' }).retryable, true);
  });

  it('keeps the cause out of inspection, JSON and key enumeration', () => {
    for (const text of [
      inspect(error, { depth: 20 }),
      JSON.stringify(error),
      format('%O', error),
      Object.keys(error).join(),
    ]) {
      assert.ok(!text.includes(SENTINEL), text);
    }
    assert.ok(inspect(error).includes('PermissionDenied'));
    assert.deepEqual((error.toJSON() as { cause: unknown }).cause, { name: 'RestError', statusCode: 403 });
  });

  it('is recognised across duplicate copies of the package', async () => {
    const url = new URL('../../src/core/errors.js', import.meta.url);
    const copy = (await import(`${url.href}?duplicate=1`)) as typeof import('../../src/core/errors.js');
    assert.notEqual(copy.StorageError, StorageError);
    const foreign = new copy.StorageError({ code: 'NotFound', message: 'x' });
    assert.ok(isStorageError(foreign, 'NotFound'));
    assert.ok(foreign instanceof StorageError);
    assert.ok(copy.isStorageError(error, 'PermissionDenied'));
    assert.ok(!isStorageError(new Error('x')));
    assert.ok(!isStorageError({ code: 'NotFound' }));
  });

  it('wraps unknown errors as Internal without quoting their message', () => {
    const wrapped = toStorageError(new TypeError(`bad ${SENTINEL}`), { provider: 'p', operation: 'store' });
    assert.equal(wrapped.code, 'Internal');
    assert.ok(!wrapped.message.includes(SENTINEL));
  });
});

describe('redact', () => {
  it('replaces sensitive fields at any depth and keeps the rest', () => {
    const out = redact({
      credentialId: 'db',
      token: SENTINEL,
      nested: { password: SENTINEL, Authorization: SENTINEL, clientSecret: SENTINEL, count: 2 },
      list: [{ apiKey: SENTINEL }],
    });
    assert.ok(!JSON.stringify(out).includes(SENTINEL));
    assert.equal((out as { credentialId: string }).credentialId, 'db');
    assert.equal((out as { nested: { count: number } }).nested.count, 2);
  });
});
