import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { crc32c } from '../../src/core/crc32c.js';

/** The plain byte-at-a-time CRC-32C, the definition the sliced implementation must equal. */
function referenceCrc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0x82f63b78 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('crc32c', () => {
  it('gives the published check values (RFC 3720 B.4 and the CRC catalogue)', () => {
    assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
    assert.equal(crc32c(new Uint8Array(0)), 0);
  });

  it('equals the bit-by-bit definition for every length and offset (slices of 8 and the tail)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(7), (bytes, offset) => {
        const view = bytes.subarray(Math.min(offset, bytes.length));
        assert.equal(crc32c(view), referenceCrc32c(view));
      }),
      { seed: 32_768, numRuns: 500 },
    );
  });
});
