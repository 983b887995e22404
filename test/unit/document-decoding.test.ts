import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encryptedDataToJson } from '../../src/core/crypto.js';
import {
  CREDENTIAL_DOCUMENT_FORMAT,
  callScopedData,
  decodeCredentialDocument,
  encodeCredentialDocument,
} from '../../src/core/document.js';
import { StorageError } from '../../src/core/errors.js';
import { createMetadata, metadataFromJson, metadataToJson } from '../../src/core/metadata.js';
import { OperationRunner, type StopSignal } from '../../src/core/operation.js';
import { resolveCommonOptions } from '../../src/core/options.js';

const stamp = (createdAt: string) => ({ createdAt, lastModified: '2026-01-01T00:00:00.000Z', tags: {} });

describe('metadataFromJson timestamps', () => {
  it('reads any toISOString() form exactly as Date does (the digit-by-digit fast path)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(100, 0, 1), max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) }),
        (ms) => {
          const text = new Date(ms).toISOString();
          assert.equal(metadataFromJson(stamp(text)).createdAt.getTime(), ms);
        },
      ),
      { seed: 424_242, numRuns: 2000 },
    );
  });

  it('gives every other 24-character text the general parser its say: same date or Corrupted', () => {
    const texts = [
      '0050-06-01T00:00:00.000Z', // years below 100, which Date.UTC maps to the 1900s
      '2026-02-30T00:00:00.000Z',
      '2026-13-01T00:00:00.000Z',
      '2026-01-01T24:00:00.000Z',
      '2026-01-01T00:60:00.000Z',
      '2026-01-01T00:00:60.000Z',
      '2026-01-01T00:00:00.0a0Z',
      '2026-01-01 00:00:00.000Z',
      '2026-01-01T00:00:00+0000',
      '+02026-01-01T00:00:00.00',
    ];
    for (const text of texts) {
      const expected = new Date(text).getTime();
      if (Number.isNaN(expected)) {
        assert.throws(
          () => metadataFromJson(stamp(text)),
          (e: unknown) => e instanceof StorageError && e.code === 'Corrupted',
          text,
        );
      } else {
        assert.equal(metadataFromJson(stamp(text)).createdAt.getTime(), expected, text);
      }
    }
  });
});

describe('AttemptContext.stopSignal', () => {
  const runner = (readMs: number) =>
    new OperationRunner(
      'test',
      resolveCommonOptions('test', { timeouts: { readMs }, retry: { baseDelayMs: 1 } }),
      (e) => {
        throw e;
      },
    );

  it('is one object per operation, shared by its attempts, and aborts with the Timeout', async () => {
    const seen: StopSignal[] = [];
    let onabortCalls = 0;
    let listenerCalls = 0;
    let removedCalls = 0;
    const removed = () => removedCalls++;
    await assert.rejects(
      runner(40).run('retrieve', async (attempt) => {
        seen.push(attempt.stopSignal);
        if (attempt.attempt === 1) throw new StorageError({ code: 'Unavailable', message: 'again' });
        const signal = attempt.stopSignal;
        signal.onabort = () => onabortCalls++;
        signal.addEventListener('abort', () => listenerCalls++);
        signal.addEventListener('abort', { handleEvent: () => listenerCalls++ });
        signal.addEventListener('abort', removed);
        signal.removeEventListener('abort', removed);
        return new Promise(() => {});
      }),
      (e: unknown) => e instanceof StorageError && e.code === 'Timeout',
    );
    assert.equal(seen.length, 2);
    assert.equal(seen[0], seen[1]);
    assert.equal(seen[0]!.aborted, true);
    assert.equal(seen[0]!.reason?.code, 'Timeout');
    assert.deepEqual([onabortCalls, listenerCalls, removedCalls], [1, 2, 0]);
  });

  it('is already aborted when asked for after the stop, and stays quiet on success', async () => {
    const controller = new AbortController();
    controller.abort();
    let late: StopSignal | undefined;
    await assert.rejects(
      runner(1000).run(
        'retrieve',
        async (attempt) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          late = attempt.stopSignal;
          return 'x';
        },
        { signal: controller.signal },
      ),
      (e: unknown) => e instanceof StorageError && e.code === 'Aborted',
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(late?.aborted, true);
    assert.equal(late?.reason?.code, 'Aborted');
    let fired = false;
    const value = await runner(1000).run('retrieve', async (attempt) => {
      attempt.stopSignal.addEventListener('abort', () => {
        fired = true;
      });
      return 'ok';
    });
    assert.equal(value, 'ok');
    assert.equal(fired, false);
  });
});

describe('encodeCredentialDocument', () => {
  it('writes exactly what JSON.stringify of the document object gives, and reads back', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.string(),
        fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_.-]{0,15}$/), fc.string({ maxLength: 30 }), {
          maxKeys: 4,
        }),
        fc.option(fc.integer({ min: 1, max: 3650 }), { nil: undefined }),
        (ciphertext, keyId, tags, intervalDays) => {
          const data = {
            version: 1,
            keyId,
            nonce: ciphertext.subarray(0, 12),
            ciphertext,
            tag: ciphertext.subarray(0, 16),
          };
          const metadata = createMetadata({
            tags,
            ...(intervalDays ? { rotationPolicy: { intervalDays } } : {}),
          });
          const text = encodeCredentialDocument(data, metadata);
          const expected = JSON.stringify({
            format: CREDENTIAL_DOCUMENT_FORMAT,
            data: encryptedDataToJson(data),
            metadata: metadataToJson(metadata),
          });
          assert.equal(text, expected);
          const back = decodeCredentialDocument(text);
          assert.equal(back.data.keyId, keyId);
          assert.deepEqual(back.metadata.tags, { ...tags });
        },
      ),
      { seed: 77_001, numRuns: 300 },
    );
  });

  it("encodes a store call's data part once, and a caller's own object afresh every time", () => {
    const data = {
      version: 1,
      keyId: 'k1',
      nonce: Buffer.alloc(12, 1),
      ciphertext: Buffer.from('one'),
      tag: Buffer.alloc(16, 2),
    };
    const scoped = callScopedData(data);
    const first = encodeCredentialDocument(scoped, createMetadata({ tags: { a: '1' } }));
    const second = encodeCredentialDocument(scoped, createMetadata({ tags: { b: '2' } }));
    assert.equal(decodeCredentialDocument(second).metadata.tags.b, '2', 'the metadata part is always new');
    assert.equal(first.slice(0, first.indexOf('"metadata"')), second.slice(0, second.indexOf('"metadata"')));
    // The caller's object is never remembered: changed bytes are encoded as they are now.
    encodeCredentialDocument(data, createMetadata());
    data.ciphertext.write('two');
    const changed = decodeCredentialDocument(encodeCredentialDocument(data, createMetadata()));
    assert.equal(Buffer.from(changed.data.ciphertext).toString(), 'two');
  });
});
