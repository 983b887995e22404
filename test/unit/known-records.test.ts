import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { EncryptionManager } from '../../src/core/crypto.js';
import { KNOWN_ABSENT_TTL_MS, KNOWN_RECORD_TTL_MS, KnownRecords } from '../../src/core/known-records.js';
import { createMetadata } from '../../src/core/metadata.js';
import { CredentialStore } from '../../src/core/store.js';
import { AwsSecretsManagerProvider } from '../../src/providers/aws-secrets-manager.js';
import { withEmulator } from './aws-helpers.js';

describe('KnownRecords', () => {
  it('remembers metadata for its TTL and a missing credential for the shorter absent TTL', () => {
    const clock = new ManualClock();
    const known = new KnownRecords(clock);
    const metadata = createMetadata({ tags: { team: 'a' }, now: new Date(clock.now()) });
    known.remember('present', metadata);
    known.rememberAbsent('absent');
    metadata.tags['team'] = 'changed by the caller';
    const got = known.get('present');
    assert.ok(got?.present);
    assert.deepEqual(got.metadata.tags, { team: 'a' }, 'a copy is kept, not the caller object');
    assert.equal(known.get('absent')?.present, false);
    void clock.advance(KNOWN_ABSENT_TTL_MS);
    assert.equal(known.get('absent'), undefined, 'absent expires first');
    assert.ok(known.get('present'));
    void clock.advance(KNOWN_RECORD_TTL_MS - KNOWN_ABSENT_TTL_MS);
    assert.equal(known.get('present'), undefined);
  });

  it('keeps at most its limit, dropping the least recently written, and forgets on demand', () => {
    const known = new KnownRecords(new ManualClock(), 2);
    known.remember('a', createMetadata());
    known.remember('b', createMetadata());
    known.remember('c', createMetadata());
    assert.equal(known.get('a'), undefined);
    assert.ok(known.get('b') && known.get('c'));
    known.forget('b');
    assert.equal(known.get('b'), undefined);
    known.clear();
    assert.equal(known.get('c'), undefined);
  });
});

describe('writes over a credential the provider knows', () => {
  it('cost one request when warm, two when cold, and recover when another process deleted it', async () => {
    await withEmulator(async (emulator) => {
      const open = async (forceDelete = false) => {
        const provider = new AwsSecretsManagerProvider({
          region: emulator.region,
          endpoint: emulator.endpoint,
          credentials: emulator.credentials,
          forceDelete,
        });
        await provider.connect();
        return new CredentialStore(provider, keys);
      };
      const keys = EncryptionManager.generate();
      const counted = async (call: () => Promise<unknown>) => {
        const before = emulator.count();
        await call();
        return emulator.count() - before;
      };
      const writer = await open();
      const created = await writer.put('rotated', 'v1', { tags: { team: 'a' } });
      assert.equal(
        await counted(() => writer.put('rotated', 'v2')),
        1,
        'warm overwrite: PutSecretValue alone',
      );

      const cold = await open(true);
      assert.equal(await counted(() => cold.put('rotated', 'v3')), 2, 'cold overwrite: one read, one write');
      const back = await cold.get('rotated');
      assert.equal(back.secret.expose(), 'v3');
      back.secret.dispose();
      assert.equal(back.metadata.createdAt.toISOString(), created.createdAt.toISOString());
      assert.deepEqual(back.metadata.tags, { team: 'a' });

      // Another process removes the secret while the writer still remembers it: the write lands as new.
      await cold.delete('rotated');
      const written = await writer.put('rotated', 'v4');
      const fresh = await cold.get('rotated');
      assert.equal(fresh.secret.expose(), 'v4');
      fresh.secret.dispose();
      assert.deepEqual(written.tags, {}, 'the tags of the deleted secret are not resurrected');
      await Promise.all([writer.close(), cold.close()]);
    });
  });
});
