import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EncryptedData } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { type LocalStorageOptions, LocalStorageProvider } from '../../src/providers/local.js';

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

/** The StorageError `promise` rejects with (fails the test if it resolves or throws anything else). */
export async function storageErrorOf(promise: Promise<unknown>): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof StorageError, String(error));
    return error;
  }
  assert.fail('expected a StorageError');
}

/** Runs `fn` with a connected provider on a fresh `<temp root>/credentials`, closed and removed afterwards. */
export async function withProvider(
  label: string,
  fn: (p: LocalStorageProvider, dir: string, root: string) => Promise<void>,
  options: Partial<LocalStorageOptions> = {},
): Promise<void> {
  const { root, cleanup } = tempRoot(label);
  const dir = join(root, 'credentials');
  const provider = new LocalStorageProvider({ directory: dir, ...options });
  try {
    await provider.connect();
    await fn(provider, dir, root);
  } finally {
    await provider.close();
    cleanup();
  }
}

/** The host tag lock tokens carry (`held-<pid>-<host tag>-<ms>-<random>`). */
export const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 12);

/** Where the cross-process lock of a short id lives. */
export const lockDirOf = (dir: string, id: string) =>
  join(dir, '.nebula-locks', createHash('sha256').update(`${id}.enc`).digest('hex').slice(0, 40));
