import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { StorageError } from '../../src/core/errors.js';
import { CredentialId } from '../../src/core/id.js';
import { decodeCredentialName, encodeCredentialName, type NameProfile } from '../../src/core/name-mapping.js';

describe('CredentialId.parse', () => {
  it('accepts letters of any script, digits, - and _', () => {
    for (const id of [
      'github_token',
      'Token',
      'a',
      'пароль',
      '東京-2',
      'é',
      'e\u0301',
      '_',
      '-',
      'x'.repeat(255),
    ]) {
      assert.equal(CredentialId.parse(id).value, id);
    }
  });

  it('counts the 255 limit in UTF-8 bytes', () => {
    assert.equal(CredentialId.parse('é'.repeat(127)).value.length, 127); // 254 bytes
    assert.throws(
      () => CredentialId.parse('é'.repeat(128)),
      (e: unknown) => e instanceof StorageError && e.code === 'InvalidId',
    );
    assert.throws(() => CredentialId.parse('x'.repeat(256)), /at most 255 bytes/);
  });

  it('refuses empty, dots, separators, NUL, spaces and non-strings with InvalidId', () => {
    for (const bad of [
      '',
      '.',
      '..',
      'a/b',
      'a\\b',
      'a\0b',
      'a b',
      ' a',
      'a\n',
      'a.b',
      'a:b',
      '\ud800',
      42,
      null,
      undefined,
    ]) {
      assert.throws(
        () => CredentialId.parse(bad),
        (e: unknown) => e instanceof StorageError && e.code === 'InvalidId' && e.retryable === false,
        `accepted ${JSON.stringify(bad)}`,
      );
    }
  });

  it('is case-sensitive', () => {
    assert.equal(CredentialId.parse('Token').equals('token'), false);
    assert.equal(CredentialId.parse('token').equals(CredentialId.parse('token')), true);
  });
});

const PROFILES: NameProfile[] = ['filesystem', 'lowercase-dns'];

function randomId(): string {
  const pool = ['a', 'z', 'A', 'Z', '0', '9', '-', '_', 'é', 'ß', 'Ж', '東', '𝒜', 'e\u0301', 'İ', 'ﬀ'];
  let id = '';
  const n = randomInt(1, 24);
  for (let i = 0; i < n; i++) id += pool[randomInt(pool.length)];
  return id;
}

describe('credential name mapping', () => {
  it('keeps lower-case ASCII ids readable', () => {
    assert.equal(encodeCredentialName('github_token', 'filesystem'), 'github_token');
    assert.equal(encodeCredentialName('my-key-2', 'filesystem'), 'my-key-2');
    assert.equal(encodeCredentialName('github_token', 'lowercase-dns'), 'github--token');
    assert.equal(encodeCredentialName('db01', 'lowercase-dns', { prefix: 'nebula-' }), 'nebula-db01');
  });

  it('encodes case and non-ASCII into lower-case names only', () => {
    assert.equal(encodeCredentialName('Token', 'filesystem'), '@token');
    assert.equal(encodeCredentialName('Token', 'lowercase-dns'), '-token');
    assert.equal(encodeCredentialName('é', 'filesystem'), '@1e9@');
    assert.equal(encodeCredentialName('a-b', 'lowercase-dns'), 'a-0b');
    for (const profile of PROFILES) {
      for (let i = 0; i < 200; i++) {
        const name = encodeCredentialName(randomId(), profile);
        assert.match(name, profile === 'filesystem' ? /^[a-z0-9_@-]+$/ : /^[a-z0-9-]+$/);
      }
    }
  });

  it('round-trips random ids exactly and never collides, even case-insensitively', () => {
    for (const profile of PROFILES) {
      const seen = new Map<string, string>();
      for (let i = 0; i < 3000; i++) {
        const id = randomId();
        const name = encodeCredentialName(id, profile, {
          prefix: 'p-',
          alphanumericEnd: profile === 'lowercase-dns',
        });
        assert.equal(
          decodeCredentialName(name, profile, { prefix: 'p-', alphanumericEnd: profile === 'lowercase-dns' })
            ?.value,
          id,
        );
        const folded = name.toLowerCase();
        const other = seen.get(folded);
        assert.ok(other === undefined || other === id, `${id} and ${other} collide as ${folded}`);
        seen.set(folded, id);
      }
    }
  });

  it('ends names with an alphanumeric when asked (Kubernetes)', () => {
    const name = encodeCredentialName('token_', 'lowercase-dns', {
      prefix: 'nebula-',
      alphanumericEnd: true,
    });
    assert.match(name, /[a-z0-9]$/);
    assert.equal(
      decodeCredentialName(name, 'lowercase-dns', { prefix: 'nebula-', alphanumericEnd: true })?.value,
      'token_',
    );
  });

  it('ignores names it did not write', () => {
    for (const foreign of [
      'README.md',
      'Token',
      '@',
      '@1e9',
      '@1E9@',
      '@10e9@',
      '@2',
      'a@@',
      '.hidden',
      'x.enc.tmp',
      '@1d800@',
    ]) {
      assert.equal(decodeCredentialName(foreign, 'filesystem'), undefined, foreign);
    }
    for (const foreign of ['GitHub', 'a-', 'other-prefix-x', '-1e9', 'a---']) {
      assert.equal(decodeCredentialName(foreign, 'lowercase-dns', { prefix: 'nebula-' }), undefined, foreign);
    }
    assert.equal(
      decodeCredentialName('nebula-a-2', 'lowercase-dns', { prefix: 'nebula-', alphanumericEnd: true }),
      undefined,
    );
  });

  it('refuses ids whose names exceed the backend limit, naming it', () => {
    assert.throws(
      () =>
        encodeCredentialName('A'.repeat(70), 'lowercase-dns', {
          maxLength: 127,
          provider: 'azure-key-vault',
        }),
      (e: unknown) =>
        e instanceof StorageError &&
        e.code === 'InvalidId' &&
        e.details.limit === 127 &&
        /127/.test(e.message),
    );
  });
});
