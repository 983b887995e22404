// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum Google Cloud Secret Manager keeps for
// every payload (`data_crc32c`). node:zlib only has the IEEE CRC-32, so both the provider (verifying what it
// reads) and the emulator (verifying what it is sent) use this one table-driven implementation.
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * The CRC-32C checksum of `data`, as the unsigned 32-bit integer Secret Manager's `data_crc32c` holds.
 *
 * @example
 * ```ts
 * import { crc32c } from './crc32c.js';
 * console.log(crc32c(new TextEncoder().encode('123456789')).toString(16)); // 'e3069283'
 * ```
 */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
