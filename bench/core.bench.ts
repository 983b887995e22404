// Core benchmarks: EncryptionManager against raw node:crypto AES-256-GCM in the same run (target: within
// 10%), passphrase key derivation (Argon2id), and the time to import the core beside bare `node -e 0`
// (target: under 30 ms more). Prints figures; asserts nothing.
import { spawnSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { EncryptionManager } from '../src/core/crypto.js';
import { measure, printTable, ratio, summarize } from './util.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ITERATIONS = 20_000;

async function crypto(): Promise<void> {
  const key = randomBytes(32);
  const manager = EncryptionManager.fromKey(key);
  const aad = Buffer.from(`nebula-credential/v1/${manager.keyId}/id:bench`);
  const rows = [];
  for (const size of [1024, 10 * 1024]) {
    const plaintext = randomBytes(size);
    const idAad = Buffer.from('id:bench');
    const rawEncrypt = (i: number) => {
      const nonce = Buffer.alloc(12);
      nonce.writeUInt32BE(i, 8);
      const c = createCipheriv('aes-256-gcm', key, nonce);
      c.setAAD(aad);
      return { nonce, ct: Buffer.concat([c.update(plaintext), c.final()]), tag: c.getAuthTag() };
    };
    const sample = rawEncrypt(0);
    const rawDecrypt = () => {
      const d = createDecipheriv('aes-256-gcm', key, sample.nonce);
      d.setAAD(aad);
      d.setAuthTag(sample.tag);
      return Buffer.concat([d.update(sample.ct), d.final()]);
    };
    const data = manager.encrypt(plaintext, idAad);
    // Interleave the two sides in rounds so drift in machine load hits both alike.
    const ours = { enc: [] as number[], dec: [] as number[] };
    const raw = { enc: [] as number[], dec: [] as number[] };
    for (let round = 0; round < 4; round++) {
      raw.enc.push(...(await measure(ITERATIONS / 4, rawEncrypt, 500)));
      ours.enc.push(...(await measure(ITERATIONS / 4, () => manager.encrypt(plaintext, idAad), 500)));
      raw.dec.push(...(await measure(ITERATIONS / 4, rawDecrypt, 500)));
      ours.dec.push(...(await measure(ITERATIONS / 4, () => manager.decrypt(data, idAad), 500)));
    }
    const kb = `${size / 1024} KB`;
    const s = {
      oe: summarize(ours.enc),
      re: summarize(raw.enc),
      od: summarize(ours.dec),
      rd: summarize(raw.dec),
    };
    rows.push(
      { label: `raw node:crypto encrypt ${kb}`, summary: s.re },
      {
        label: `EncryptionManager.encrypt ${kb}`,
        summary: s.oe,
        note: `p50 ${ratio(s.oe.p50, s.re.p50)} of raw (target <= 1.10x)`,
      },
      { label: `raw node:crypto decrypt ${kb}`, summary: s.rd },
      {
        label: `EncryptionManager.decrypt ${kb}`,
        summary: s.od,
        note: `p50 ${ratio(s.od.p50, s.rd.p50)} of raw (target <= 1.10x)`,
      },
    );
  }
  printTable('AES-256-GCM: EncryptionManager beside raw node:crypto (same run)', rows);
}

async function passphrase(): Promise<void> {
  const salt = randomBytes(16);
  const samples = await measure(
    10,
    () => EncryptionManager.fromPassphrase('correct horse battery staple', salt),
    2,
  );
  printTable('Passphrase key derivation (Argon2id, 19 MiB, t=2, p=1, hash-wasm)', [
    { label: 'EncryptionManager.fromPassphrase', summary: summarize(samples) },
  ]);
}

function importTime(): void {
  const run = (args: string[]) => {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { cwd: root });
    if (r.status !== 0) throw new Error(r.stderr.toString());
    return performance.now() - t;
  };
  const bare: number[] = [];
  const core: number[] = [];
  for (let i = 0; i < 30; i++) {
    bare.push(run(['-e', '0']));
    core.push(run(['--input-type=module', '-e', "await import('nebula-credential')"]));
  }
  const b = summarize(bare.slice(5));
  const c = summarize(core.slice(5));
  printTable('Process start: import of the core beside bare node -e 0', [
    { label: 'node -e 0', summary: b },
    {
      label: "import('nebula-credential')",
      summary: c,
      note: `+${(c.p50 - b.p50).toFixed(1)} ms at p50 (target < 30 ms)`,
    },
  ]);
}

await crypto();
await passphrase();
importTime();
