import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EncryptedData } from '../../src/core/crypto.js';
import type { Logger } from '../../src/core/logger.js';

/** A fresh temp directory, removed by the returned cleanup. Never the real HOME. */
export function tempRoot(label: string): { root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), `nebula-local-${label}-`));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export function fakeData(text: string): EncryptedData {
  return {
    version: 1,
    keyId: 'unit000000000000',
    nonce: randomBytes(12),
    ciphertext: Buffer.from(text),
    tag: randomBytes(16),
  };
}

export interface RecordingLogger extends Logger {
  lines: { level: string; message: string; fields: Record<string, unknown> }[];
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = [];
  const at = (level: string) => (fields: Record<string, unknown>, message?: string) =>
    lines.push({ level, message: message ?? '', fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The pid of a process that has certainly exited. */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(r.stdout);
}
