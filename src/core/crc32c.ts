// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum Google Cloud Secret Manager keeps for
// every payload (`data_crc32c`). node:zlib only has the IEEE CRC-32, so both the provider (verifying what it
// reads) and the emulator (verifying what it is sent) use this one table-driven implementation.
// Slicing-by-8: eight tables let one step fold in eight bytes, several times faster than a byte at a time
// (every payload is checksummed on write and verified on read). tables[k][n] is the CRC of byte n followed
// by k zero bytes. Built on first use: the core chunk is evaluated by every process, a checksum only by GCP's.
type Tables = [
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
];
let tables: Tables | undefined;
function buildTables(): Tables {
  const built = Array.from({ length: 8 }, () => new Uint32Array(256));
  const [first] = built as [Uint32Array];
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    first[n] = c >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    const previous = built[k - 1]!;
    const table = built[k]!;
    for (let n = 0; n < 256; n++) table[n] = (previous[n]! >>> 8) ^ first[previous[n]! & 0xff]!;
  }
  return built as Tables;
}

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
  tables ??= buildTables();
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables;
  let crc = 0xffffffff;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  for (; i < end8; i += 8) {
    const low = (crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    const high = data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24);
    crc =
      t7[low & 0xff]! ^
      t6[(low >>> 8) & 0xff]! ^
      t5[(low >>> 16) & 0xff]! ^
      t4[low >>> 24]! ^
      t3[high & 0xff]! ^
      t2[(high >>> 8) & 0xff]! ^
      t1[(high >>> 16) & 0xff]! ^
      t0[(high >>> 24) & 0xff]!;
  }
  for (; i < data.length; i++) crc = t0[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
