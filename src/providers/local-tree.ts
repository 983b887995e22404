import { type Dirent, promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { isGone, overwriteAndUnlink, pidOfTempName, processAlive } from './local-fs.js';
import {
  CREDENTIAL_SUFFIX,
  idValueFromPathParts,
  isInternalName,
  SEGMENT_DIR_SUFFIX,
  TEMP_PREFIX,
  TOMB_PREFIX,
} from './local-layout.js';

/** A credential file found by {@link walkCredentialFiles}. */
export interface FoundCredential {
  id: string;
  dir: string;
  name: string;
}

/** Collects the credential files under `dir` from names alone (never opening a file). */
export async function walkCredentialFiles(
  dir: string,
  prefix: string[],
  out: FoundCredential[],
): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (prefix.length > 0 && isGone(error)) return;
    throw error;
  }
  const nested: Promise<void>[] = [];
  for (const entry of entries) {
    const name = entry.name;
    if (isInternalName(name)) continue;
    if (entry.isFile() && name.endsWith(CREDENTIAL_SUFFIX)) {
      const id = idValueFromPathParts(prefix.length === 0 ? [name] : [...prefix, name]);
      if (id !== undefined) out.push({ id, dir, name });
    } else if (entry.isDirectory() && name.endsWith(SEGMENT_DIR_SUFFIX)) {
      nested.push(walkCredentialFiles(join(dir, name), [...prefix, name], out));
    }
  }
  await Promise.all(nested);
}

/**
 * Deletes temp files and tombs of writers that are gone (dead pid, or older than `staleMs`), recursively.
 * Other processes keep writing and deleting meanwhile: a piece directory (or a file) that vanishes under the
 * sweep is simply one less thing to sweep.
 */
export async function removeLeftovers(dir: string, staleMs: number, nested = false): Promise<number> {
  let removed = 0;
  let entries: Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (nested && isGone(error)) return 0;
    throw error;
  }
  for (const entry of entries) {
    const name = entry.name;
    const path = join(dir, name);
    if (entry.isDirectory() && name.endsWith(SEGMENT_DIR_SUFFIX)) {
      removed += await removeLeftovers(path, staleMs, true);
      continue;
    }
    const prefix = name.startsWith(TEMP_PREFIX)
      ? TEMP_PREFIX
      : name.startsWith(TOMB_PREFIX)
        ? TOMB_PREFIX
        : '';
    if (!prefix) continue;
    const pid = pidOfTempName(name, prefix);
    const age = Date.now() - (await fsp.lstat(path).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
    if (pid === undefined || !processAlive(pid) || age > staleMs) {
      if (prefix === TOMB_PREFIX) await overwriteAndUnlink(path).catch(() => {});
      else await fsp.unlink(path).catch(() => {});
      removed++;
    }
  }
  return removed;
}

/**
 * The first piece directory on the way to the credential at `parts` (relative to `root`) that is not a real
 * directory (a symlink, which must never be followed, or a file), or undefined when all are, or are missing.
 */
export async function firstUnsafePieceDir(
  root: string,
  parts: readonly string[],
): Promise<string | undefined> {
  let dir = root;
  for (let i = 0; i < parts.length - 1; i++) {
    dir = join(dir, parts[i]!);
    try {
      if (!(await fsp.lstat(dir)).isDirectory()) return dir;
    } catch (error) {
      if (isGone(error)) return undefined;
      throw error;
    }
  }
  return undefined;
}

/** Removes emptied piece directories from `dir` up to (not including) `root`. */
export async function removeEmptyPieceDirs(dir: string, root: string): Promise<void> {
  while (dir !== root && dir.startsWith(root)) {
    try {
      await fsp.rmdir(dir);
    } catch {
      return; // not empty (or already gone): stop climbing
    }
    dir = dirname(dir);
  }
}
