import assert from 'node:assert/strict';
import * as nodeCrypto from 'node:crypto';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import {
  ARGON2ID_PARAMETERS,
  EncryptionManager,
  encryptedDataFromJson,
  encryptedDataToJson,
} from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';

const isCode = (code: string) => (e: unknown) => e instanceof StorageError && e.code === code;

describe('EncryptionManager', () => {
  const manager = EncryptionManager.generate();
  const plaintext = Buffer.from('correct horse battery staple');

  it('round-trips any bytes with a 12-byte nonce and a 16-byte tag', () => {
    const bytes = nodeCrypto.randomBytes(10_000);
    const data = manager.encrypt(bytes);
    assert.equal(data.version, 1);
    assert.equal(data.nonce.length, 12);
    assert.equal(data.tag.length, 16);
    assert.equal(data.keyId, manager.keyId);
    assert.ok(!Buffer.from(data.ciphertext).equals(bytes));
    assert.ok(manager.decrypt(data).equals(bytes));
  });

  it('is plain AES-256-GCM: node:crypto decrypts it with the same key, nonce and header', () => {
    const key = nodeCrypto.randomBytes(32);
    const m = EncryptionManager.fromKey(key);
    const data = m.encrypt(plaintext);
    const d = nodeCrypto.createDecipheriv('aes-256-gcm', key, data.nonce);
    d.setAAD(Buffer.from(`nebula-credential/v1/${m.keyId}/`));
    d.setAuthTag(data.tag);
    assert.ok(Buffer.concat([d.update(data.ciphertext), d.final()]).equals(plaintext));
  });

  it('never repeats a nonce within a manager', () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 20_000; i++)
      nonces.add(Buffer.from(manager.encrypt(plaintext).nonce).toString('hex'));
    assert.equal(nonces.size, 20_000);
  });

  it('fails with DecryptionFailed on a wrong key, naming both key ids', () => {
    const data = manager.encrypt(plaintext);
    assert.throws(
      () => EncryptionManager.generate().decrypt(data),
      (e: unknown) => isCode('DecryptionFailed')(e) && /wrong key/.test((e as Error).message),
    );
  });

  it('fails with DecryptionFailed when any bit of ciphertext, tag or nonce flips', () => {
    const data = manager.encrypt(plaintext);
    for (const field of ['ciphertext', 'tag', 'nonce'] as const) {
      for (const bit of [0, 7, 13]) {
        const copy = { ...data, [field]: Buffer.from(data[field]) };
        const bytes = copy[field] as Buffer;
        bytes[bit % bytes.length]! ^= 1 << (bit % 8);
        assert.throws(() => manager.decrypt(copy), isCode('DecryptionFailed'), `${field} bit ${bit}`);
      }
    }
  });

  it('fails with DecryptionFailed on truncated fields, and never returns unauthenticated bytes', () => {
    const data = manager.encrypt(plaintext);
    assert.throws(
      () => manager.decrypt({ ...data, tag: data.tag.subarray(0, 12) }),
      isCode('DecryptionFailed'),
    );
    assert.throws(
      () => manager.decrypt({ ...data, nonce: data.nonce.subarray(0, 8) }),
      isCode('DecryptionFailed'),
    );
    assert.throws(
      () => manager.decrypt({ ...data, ciphertext: data.ciphertext.subarray(0, 5) }),
      isCode('DecryptionFailed'),
    );
  });

  it('refuses an unknown format version clearly', () => {
    const data = manager.encrypt(plaintext);
    assert.throws(
      () => manager.decrypt({ ...data, version: 2 }),
      (e: unknown) => isCode('Unsupported')(e) && /version 2/.test((e as Error).message),
    );
  });

  it('binds associated data: a ciphertext moved to another id does not decrypt', () => {
    const data = manager.encrypt(plaintext, Buffer.from('id:a'));
    assert.ok(manager.decrypt(data, Buffer.from('id:a')).equals(plaintext));
    assert.throws(() => manager.decrypt(data, Buffer.from('id:b')), isCode('DecryptionFailed'));
    assert.throws(() => manager.decrypt(data), isCode('DecryptionFailed'));
  });

  it('round-trips its JSON form with base64 fields and rejects malformed JSON as Corrupted', () => {
    const data = manager.encrypt(plaintext);
    const json = encryptedDataToJson(data);
    assert.match(json.ciphertext, /^[A-Za-z0-9+/]+=*$/);
    assert.ok(manager.decrypt(encryptedDataFromJson(JSON.parse(JSON.stringify(json)))).equals(plaintext));
    for (const bad of [
      null,
      'x',
      { ...json, nonce: 'not base64!' },
      // What Node's decoder would silently skip or accept: whitespace, URL-safe letters, inner padding.
      { ...json, ciphertext: `${json.ciphertext.slice(0, 8)} ${json.ciphertext.slice(9)}` },
      { ...json, ciphertext: json.ciphertext.replace(/[+/]/g, '-').replace(/^[^-]*$/, '-AAA') },
      { ...json, nonce: `AAAA=${json.nonce.slice(5)}` },
      { ...json, tag: `${json.tag}AAAA`.slice(1) },
      { ...json, version: '1' },
      { ...json, tag: undefined },
    ]) {
      assert.throws(() => encryptedDataFromJson(bad), isCode('Corrupted'));
    }
  });

  it('rejects keys that are not 32 bytes', () => {
    assert.throws(() => EncryptionManager.fromKey(Buffer.alloc(16)), isCode('InvalidConfig'));
  });

  it('hides the key from inspection and JSON', () => {
    const key = Buffer.alloc(32, 0x41);
    const m = EncryptionManager.fromKey(key);
    const hex = key.toString('hex');
    for (const text of [JSON.stringify(m), inspect(m), String(m)]) {
      assert.ok(!text.includes(hex) && !text.includes(key.toString('base64')) && !text.includes('AAAA'));
    }
  });
});

describe('EncryptionManager.fromPassphrase (Argon2id)', () => {
  const salt = Buffer.from('0123456789abcdef');
  // Known answer computed with Argon2id m=19456 KiB, t=2, p=1, 32 bytes; cross-checked below with
  // node:crypto's own argon2 where the running Node has it (24.7+).
  const expectedKey = Buffer.from('832e52b959b967b570ee4781f6c7bda7ced019ca266ac781fd2d94d4e853b0cd', 'hex');

  it('derives the Argon2id key of the original design parameters', async () => {
    assert.deepEqual(ARGON2ID_PARAMETERS, { memoryKiB: 19456, iterations: 2, parallelism: 1 });
    const derived = await EncryptionManager.fromPassphrase('correct horse battery staple', salt);
    assert.equal(derived.keyId, EncryptionManager.fromKey(expectedKey).keyId);
    const argon2Sync = (nodeCrypto as unknown as { argon2Sync?: (a: string, o: object) => Buffer })
      .argon2Sync;
    if (argon2Sync) {
      const native = argon2Sync('argon2id', {
        message: Buffer.from('correct horse battery staple'),
        nonce: salt,
        parallelism: 1,
        tagLength: 32,
        memory: 19456,
        passes: 2,
      });
      assert.ok(native.equals(expectedKey));
    }
  });

  it('gives a different key for another passphrase or salt, so a wrong passphrase fails clearly', async () => {
    const right = await EncryptionManager.fromPassphrase('pass one', salt);
    const data = right.encrypt(Buffer.from('v'));
    const wrong = await EncryptionManager.fromPassphrase('pass two', salt);
    const otherSalt = await EncryptionManager.fromPassphrase('pass one', Buffer.from('fedcba9876543210'));
    assert.notEqual(wrong.keyId, right.keyId);
    assert.notEqual(otherSalt.keyId, right.keyId);
    assert.throws(() => wrong.decrypt(data), isCode('DecryptionFailed'));
  });

  it('refuses an empty passphrase and a short salt', async () => {
    await assert.rejects(EncryptionManager.fromPassphrase('', salt), isCode('InvalidConfig'));
    await assert.rejects(EncryptionManager.fromPassphrase('x', Buffer.alloc(8)), isCode('InvalidConfig'));
  });
});
