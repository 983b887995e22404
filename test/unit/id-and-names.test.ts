import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { EncryptionManager } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import { CredentialId } from '../../src/core/id.js';
import { decodeCredentialName, encodeCredentialName, type NameProfile } from '../../src/core/name-mapping.js';
import { CredentialStore } from '../../src/core/store.js';
import { LocalStorageProvider } from '../../src/providers/local.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';
import { tempRoot } from './local-helpers.js';

describe('CredentialId.parse', () => {
  it('accepts letters of any script, digits, - and _', () => {
    for (const id of ['github_token', 'Token', 'a', 'пароль', '東京-2', 'é', '_', '-', 'x'.repeat(255)]) {
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
          id.normalize('NFC'),
        );
        const folded = name.toLowerCase();
        const other = seen.get(folded);
        const canonical = id.normalize('NFC');
        assert.ok(other === undefined || other === canonical, `${id} and ${other} collide as ${folded}`);
        seen.set(folded, canonical);
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

describe('id normalization (NFC) and invisible characters', () => {
  const COMPOSED = 'caf\u00e9';
  const DECOMPOSED = 'cafe\u0301';

  it('parses composed and decomposed forms to one NFC id', () => {
    assert.equal(CredentialId.parse(DECOMPOSED).value, COMPOSED);
    assert.equal(CredentialId.from(DECOMPOSED).value, COMPOSED);
    assert.ok(CredentialId.parse(DECOMPOSED).equals(COMPOSED));
    assert.ok(CredentialId.parse(COMPOSED).equals(DECOMPOSED));
    // Hangul jamo compose into the syllable, as a Korean keyboard on another system would type it.
    assert.equal(CredentialId.parse('\u1100\u1161').value, '\uac00');
    assert.equal(CredentialId.parse('\u212b').value, '\u00c5'); // U+212B ANGSTROM SIGN is U+00C5 under NFC
  });

  it('counts the byte limit after normalization', () => {
    // U+0958 is excluded from composition: NFC turns its 3 bytes into 6.
    assert.throws(
      () => CredentialId.parse('\u0958'.repeat(50)),
      (e: unknown) => e instanceof StorageError && e.code === 'InvalidId' && /300/.test(e.message),
    );
  });

  it('maps both forms to one backend name, which decodes to the NFC form', () => {
    for (const profile of PROFILES) {
      const name = encodeCredentialName(DECOMPOSED, profile);
      assert.equal(name, encodeCredentialName(COMPOSED, profile));
      assert.equal(decodeCredentialName(name, profile)?.value, COMPOSED);
    }
  });

  it('refuses invisible, formatting and control characters, naming the position and code point only', () => {
    const invisible = [
      '\u3164', // HANGUL FILLER (a letter that renders as nothing)
      '\u115f', // HANGUL CHOSEONG FILLER
      '\u1160', // HANGUL JUNGSEONG FILLER
      '\uffa0', // HALFWIDTH HANGUL FILLER
      '\u200b', // ZERO WIDTH SPACE
      '\u200c', // ZERO WIDTH NON-JOINER
      '\u200d', // ZERO WIDTH JOINER
      '\u200e', // LEFT-TO-RIGHT MARK
      '\u200f', // RIGHT-TO-LEFT MARK
      '\u202a', // LEFT-TO-RIGHT EMBEDDING
      '\u202e', // RIGHT-TO-LEFT OVERRIDE
      '\u2066', // LEFT-TO-RIGHT ISOLATE
      '\u2069', // POP DIRECTIONAL ISOLATE
      '\ufeff', // BYTE ORDER MARK
      '\u00ad', // SOFT HYPHEN
      '\u2060', // WORD JOINER
      '\u034f', // COMBINING GRAPHEME JOINER (a mark, default-ignorable)
      '\ufe0f', // VARIATION SELECTOR-16
      '\u{e0041}', // TAG LATIN CAPITAL LETTER A
      '\u0007', // BEL
      '\u007f', // DEL
      '\u009b', // C1 CONTROL SEQUENCE INTRODUCER (terminal escapes)
    ];
    for (const ch of invisible) {
      const id = `ab${ch}cd`;
      const hex = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
      assert.throws(
        () => CredentialId.parse(id),
        (e: unknown) => {
          assert.ok(e instanceof StorageError && e.code === 'InvalidId', String(e));
          assert.match(e.message, /character 3\b/, e.message);
          assert.ok(e.message.includes(`U+${hex}`), e.message);
          assert.ok(!e.message.includes(ch), `echoes the character: ${JSON.stringify(e.message)}`);
          assert.ok(!e.message.includes('abcd'), e.message);
          assert.equal(e.details.position, 3);
          return true;
        },
        `accepted U+${hex}`,
      );
      assert.equal(CredentialId.isValid(id), false);
    }
  });

  it('names the first offending character of any refused id', () => {
    assert.throws(() => CredentialId.parse('key.name'), /character 4 \(U\+002E\)/);
    assert.throws(() => CredentialId.parse('\u0301abc'), /combining mark/);
  });
});

describe('composed and decomposed ids name one credential on every provider', () => {
  it('local and memory: put under one form, read, overwrite and delete under the other', async () => {
    const { root, cleanup } = tempRoot('nfc');
    try {
      for (const provider of [new MemoryStorageProvider(), new LocalStorageProvider({ directory: root })]) {
        const store = new CredentialStore(provider, EncryptionManager.generate(), {
          disposeEncryptionOnClose: true,
        });
        await store.put('caf\u00e9', 'first');
        await store.put('cafe\u0301', 'second');
        assert.deepEqual(await store.list(), ['caf\u00e9'], provider.name);
        assert.equal(await store.exists('cafe\u0301'), true);
        const { secret } = await store.get('cafe\u0301');
        assert.equal(secret.expose(), 'second');
        secret.dispose();
        await store.delete('cafe\u0301');
        assert.equal(await store.exists('caf\u00e9'), false);
        await store.close();
      }
    } finally {
      cleanup();
    }
  });
});
