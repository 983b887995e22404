import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { StorageError, type StorageOperation, toStorageError } from '../core/errors.js';

const IS_WINDOWS = process.platform === 'win32';
// O_NOFOLLOW does not exist on Windows (constants lack it); there the ACL set at connect is the guard.
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
// Without O_NONBLOCK a FIFO planted under a credential's name would block open() forever.
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;

/** Flags for reading a credential: never follow a symlink, never block on a FIFO. */
export const READ_FLAGS = constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
/** Flags for a new temp file: must not exist, must not be a symlink. */
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW;

/** ENOENT or ENOTDIR: the path (or a directory on it) is not there, typically removed by a concurrent delete. */
export function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

// Drawn once per module instance (each worker thread has its own, though they share the pid); a counter after
// it keeps every name unique without a call into the CSPRNG per write.
const INSTANCE_TAG = randomBytes(8).toString('hex');
let uniqueCounter = 0;

/** Hex unique to this process, thread and call, for unique names (`<pid>-<hex>`). */
export function uniqueHex(): string {
  uniqueCounter = (uniqueCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${INSTANCE_TAG}${uniqueCounter.toString(16)}`;
}

/** `<pid>-<hex>` for unique names whose pid `connect()` reads back. */
export function uniqueSuffix(): string {
  return `${process.pid}-${uniqueHex()}`;
}

/** Pid embedded in a temp or tomb name (`<prefix><pid>-<hex>`), if any. */
export function pidOfTempName(name: string, prefix: string): number | undefined {
  const m = /^(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length));
  return m ? Number(m[1]) : undefined;
}

/** False only when the process certainly does not exist on this host (ESRCH). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** fsync a directory so a rename or unlink in it survives a power cut. A no-op on Windows, which refuses it. */
export async function syncDirectory(dir: string): Promise<void> {
  if (IS_WINDOWS) return;
  const handle = await fsp.open(dir, constants.O_RDONLY | O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * `mkdir -p` with mode 0700 whose failure carries the real errno. Node's recursive mkdir stats the path after
 * a failed mkdir and reports that stat's ENOENT instead, so a missing directory on a read-only file system
 * would read "removed while in use" rather than EROFS; on ENOENT the missing components are made one by one,
 * each mkdir reporting its own error.
 */
export async function makeDirectories(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    return;
  } catch (error) {
    if (!isGone(error)) throw error;
  }
  const missing: string[] = [];
  for (let at = dir; ; at = dirname(at)) {
    const found = await fsp.lstat(at).then(
      () => true,
      (error: unknown) => {
        if (isGone(error)) return false;
        throw error;
      },
    );
    if (found || dirname(at) === at) break;
    missing.unshift(at);
  }
  for (const path of missing) {
    await fsp.mkdir(path, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
}

/**
 * The directory fsync that makes a committed rename durable, run beside the lock's release (so the lock is
 * held for the rename alone, not for an fsync). The directory being gone is success: the write committed, and
 * only a delete ordered after it (it took the lock after our rename) removes the file and then its emptied
 * piece directory; that delete syncs its own removal, and there is nothing of ours left to flush.
 */
export async function syncCommittedDirectory(dir: string): Promise<void> {
  try {
    await syncDirectory(dir);
  } catch (error) {
    if (!isGone(error)) throw error;
  }
}

// On Linux a write to a file opened O_SYNC ends in the same vfs_fsync_range an fsync(2) of the file makes
// (file integrity completion: data and metadata), so the write and its fsync cost one round trip to the thread
// pool instead of two. Elsewhere (macOS, Windows) the explicit fsync stays.
const SYNC_ON_WRITE = process.platform === 'linux' ? (constants.O_SYNC ?? 0) : 0;

/** A temp file opened by {@link openTempFile}. */
export interface TempFile {
  path: string;
  handle: fsp.FileHandle;
}

/**
 * The first half of an atomic write: a unique temp file in `dir` (same directory as the target, so the
 * rename never crosses file systems) opened O_CREAT|O_EXCL|O_NOFOLLOW with mode 0600, so it is never
 * readable by others, not even for a moment. It needs no lock (its name is unique) and is invisible until
 * renamed, so it can be opened before the bytes are known.
 */
export async function openTempFile(dir: string): Promise<TempFile> {
  const path = join(dir, `.nebula-tmp-${uniqueSuffix()}`);
  return { path, handle: await fsp.open(path, CREATE_FLAGS | SYNC_ON_WRITE, 0o600) };
}

/** Writes all of `bytes` to a file from {@link openTempFile} and makes them durable before it resolves. */
export async function writeDurably(handle: fsp.FileHandle, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
    written += bytesWritten;
  }
  // Without a write there was no synchronous completion to rely on.
  if (SYNC_ON_WRITE === 0 || bytes.length === 0) await handle.sync();
}

/** {@link openTempFile} and {@link writeDurably} in one, the file closed (and removed on failure). */
export async function writeTempFile(dir: string, bytes: Uint8Array): Promise<string> {
  const { path, handle } = await openTempFile(dir);
  try {
    try {
      await writeDurably(handle, bytes);
    } finally {
      await handle.close();
    }
  } catch (error) {
    await fsp.unlink(path).catch(() => {});
    throw error;
  }
  return path;
}

/**
 * A directory opened for the fsync that makes a rename in it durable; undefined on Windows, which refuses a
 * directory fsync (NTFS journals the rename). Opening it before the rename is as good as after: fsync flushes
 * the directory inode's state when it runs, whenever the descriptor was opened.
 */
export async function openDirectoryForSync(dir: string): Promise<fsp.FileHandle | undefined> {
  return IS_WINDOWS ? undefined : fsp.open(dir, constants.O_RDONLY | O_DIRECTORY);
}

/** The second half: rename the synced temp file over `target` (removing the temp on failure). */
export async function commitTempFile(temp: string, target: string): Promise<void> {
  try {
    await fsp.rename(temp, target);
  } catch (error) {
    await fsp.unlink(temp).catch(() => {});
    throw error;
  }
}

/** What {@link readBounded} returns. */
export interface BoundedRead {
  bytes: Buffer;
  mode: number;
  uid: number;
  ino: number;
  /** {@link fileIdentity} of the file read. */
  identity: string;
  /** {@link identityIsPrecise} of it. */
  identityIsPrecise: boolean;
}

/**
 * Which file a name points at, for telling "still the file I read or wrote" apart: the inode with its change
 * time. A writer renames a new file over the name, and the inode alone can be reused by a later file once
 * the old one is gone; the change time (set when the file is created, renamed or chmod-ed) tells them apart.
 *
 * @example
 * ```ts
 * import { statSync } from 'node:fs';
 * console.log(fileIdentity(statSync('/etc/hostname'))); // '1234567/1796284802705.123'
 * ```
 */
export function fileIdentity(stat: { ino: number; ctimeMs: number }): string {
  return `${stat.ino}/${stat.ctimeMs}`;
}

/**
 * Whether {@link fileIdentity} can stand in for reading the file: only where the change time has sub-second
 * precision. On a filesystem that keeps whole seconds (FAT, some network mounts), two files on one reused
 * inode within a second would look the same.
 *
 * @example
 * ```ts
 * import { statSync } from 'node:fs';
 * console.log(identityIsPrecise(statSync('/etc/hostname'))); // true on ext4, xfs, btrfs, tmpfs, APFS
 * ```
 */
export function identityIsPrecise(stat: { ctimeMs: number }): boolean {
  return stat.ctimeMs % 1000 !== 0;
}

/** Why a read was refused before reading. */
export class ReadRefusal extends Error {
  constructor(
    readonly reason: 'not-regular' | 'too-large',
    readonly size: number,
  ) {
    super(reason);
  }
}

/**
 * Opens `path` without following symlinks, checks with fstat that it is a regular file of at most
 * `maxBytes`, and only then reads it. `onOpen` sees the stat before the read (mode and owner checks run on
 * the open descriptor, so nothing can be swapped in between). Given `closing`, the descriptor's close is left
 * running there (the caller awaits it later, off its critical path) instead of being awaited.
 */
export async function readBounded(
  path: string,
  maxBytes: number,
  onOpen?: (handle: fsp.FileHandle, stat: { mode: number; uid: number }) => Promise<void>,
  closing?: Promise<void>[],
): Promise<BoundedRead> {
  const handle = await fsp.open(path, READ_FLAGS);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new ReadRefusal('not-regular', stat.size);
    if (stat.size > maxBytes) throw new ReadRefusal('too-large', stat.size);
    await onOpen?.(handle, stat);
    // Read what fstat promised, in one call for the usual small file. Writers never modify a credential file in
    // place (they rename a new one over it), so a size change after fstat means a foreign writer: the bound is
    // still enforced because the buffer holds at most maxBytes.
    const buffer = Buffer.allocUnsafe(stat.size);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return {
      bytes: buffer.subarray(0, length),
      mode: stat.mode,
      uid: stat.uid,
      ino: stat.ino,
      identity: fileIdentity(stat),
      identityIsPrecise: identityIsPrecise(stat),
    };
  } finally {
    const closed = handle.close();
    if (closing) closing.push(closed.catch(() => {}));
    else await closed;
  }
}

/** What {@link overwriteAndUnlink} did before unlinking: overwrote the bytes, or left them to other links. */
export type WipeOutcome = { overwritten: true } | { overwritten: false; links: number };

/**
 * Overwrites a file's bytes with zeros and syncs them before unlinking it (best effort: SSDs and
 * copy-on-write file systems keep old blocks; see the docs). Never follows a symlink: one is just unlinked.
 * A file with other hard links (a `cp -al` or rsnapshot backup) is unlinked without the overwrite: the bytes
 * belong to those links too, and zeroing them would destroy the backup.
 */
export async function overwriteAndUnlink(path: string): Promise<WipeOutcome> {
  let outcome: WipeOutcome = { overwritten: true };
  const handle = await fsp.open(path, constants.O_RDWR | O_NOFOLLOW | O_NONBLOCK).catch(() => undefined);
  if (handle) {
    try {
      const stat = await handle.stat();
      if (stat.isFile() && stat.nlink > 1) outcome = { overwritten: false, links: stat.nlink };
      else if (stat.isFile() && stat.size > 0) {
        const zeros = Buffer.alloc(Math.min(stat.size, 64 * 1024));
        for (let offset = 0; offset < stat.size; offset += zeros.length) {
          await handle.write(zeros, 0, Math.min(zeros.length, stat.size - offset), offset);
        }
        await handle.sync();
      }
    } finally {
      await handle.close();
    }
  }
  await fsp.unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  return outcome;
}

/** Serializes async work per key inside this process (one queue per lock path, shared by all instances). */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    try {
      await previous;
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

/** Caps the number of file operations in flight, so 1,000 concurrent calls never exhaust descriptors. */
export class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

const RETRYABLE_ERRNO = new Set(['EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'EINTR', 'ETIMEDOUT']);

/**
 * Maps a Node.js file-system error to a StorageError by its `code` field (never by message).
 */
export function mapFsError(
  provider: string,
  error: unknown,
  operation: StorageOperation,
  credentialId: string | undefined,
): StorageError {
  const e = error as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const base = {
    provider,
    operation,
    credentialId,
    cause: error,
    details: code ? { backendCode: code } : {},
  };
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return new StorageError({
        ...base,
        code: 'PermissionDenied',
        // Windows reports a rename over a file another process has open as EPERM: transient there.
        retryable: IS_WINDOWS && operation !== 'connect',
        message: `the operating system denied ${e.syscall ?? 'access'} in the credential directory; check that it and its files belong to this user`,
      });
    case 'ELOOP':
    case 'EMLINK':
      return new StorageError({
        ...base,
        code: 'PermissionDenied',
        message: 'a symbolic link sits where a credential file belongs; it is not followed (remove it)',
      });
    case 'EROFS':
      return new StorageError({
        ...base,
        code: 'PermissionDenied',
        message: 'the credential directory is on a read-only file system',
      });
    case 'ENOSPC':
    case 'EDQUOT':
      return new StorageError({
        ...base,
        code: 'Unavailable',
        retryable: false,
        message: 'the disk (or quota) holding the credential directory is full; free space and retry',
      });
    case 'EIO':
      return new StorageError({
        ...base,
        code: 'Unavailable',
        retryable: false,
        message: 'the disk reported an I/O error; check the device',
      });
    case 'ENOENT':
    case 'ENOTDIR':
      // Missing credentials are handled where they are expected; here the directory itself went away.
      return new StorageError({
        ...base,
        code: 'Unavailable',
        retryable: false,
        message:
          'the credential directory (or part of it) was removed while in use; re-create it or reconnect',
      });
    case 'ENAMETOOLONG':
      return new StorageError({
        ...base,
        code: 'InvalidConfig',
        message: 'the credential directory path is too long for this file system; choose a shorter directory',
      });
    default:
      if (code !== undefined && RETRYABLE_ERRNO.has(code)) {
        // Seen only once retrying is over (or not allowed), so it says what to do, not that it is retried.
        return new StorageError({
          ...base,
          code: 'Unavailable',
          retryable: true,
          message: TRANSIENT_MESSAGES[code] ?? `a transient file-system error (${code}) occurred; try again`,
        });
      }
      return toStorageError(error, { provider, operation, credentialId });
  }
}

const TRANSIENT_MESSAGES: Readonly<Record<string, string>> = {
  EMFILE:
    'this process has too many open files (EMFILE); raise its limit (ulimit -n, or LimitNOFILE for a service) or run fewer operations at once',
  ENFILE:
    'the system has too many open files (ENFILE); close other programs or raise the system limit (fs.file-max)',
};
