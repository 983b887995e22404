import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
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

/** Random hex for unique names. */
export function uniqueSuffix(): string {
  return `${process.pid}-${randomBytes(8).toString('hex')}`;
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
 * The first half of an atomic write: a unique temp file in `dir` (same directory as the target, so the
 * rename never crosses file systems) opened O_CREAT|O_EXCL|O_NOFOLLOW with mode 0600, so it is never
 * readable by others, not even for a moment; written and fsynced. Removed on failure. Returns its path.
 */
export async function writeTempFile(dir: string, bytes: Uint8Array): Promise<string> {
  const temp = join(dir, `.nebula-tmp-${uniqueSuffix()}`);
  const handle = await fsp.open(temp, CREATE_FLAGS, 0o600);
  try {
    try {
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
        written += bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await fsp.unlink(temp).catch(() => {});
    throw error;
  }
  return temp;
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

/**
 * Writes `bytes` to `target` atomically and durably: temp file, write, fsync, rename over the target,
 * fsync the directory. The temp file is removed on any failure.
 */
export async function writeFileAtomic(dir: string, target: string, bytes: Uint8Array): Promise<void> {
  await commitTempFile(await writeTempFile(dir, bytes), target);
  await syncDirectory(dir);
}

/** What {@link readBounded} returns. */
export interface BoundedRead {
  bytes: Buffer;
  mode: number;
  uid: number;
  ino: number;
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
 * the open descriptor, so nothing can be swapped in between).
 */
export async function readBounded(
  path: string,
  maxBytes: number,
  onOpen?: (handle: fsp.FileHandle, stat: { mode: number; uid: number }) => Promise<void>,
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
    return { bytes: buffer.subarray(0, length), mode: stat.mode, uid: stat.uid, ino: stat.ino };
  } finally {
    await handle.close();
  }
}

/**
 * Overwrites a file's bytes with zeros and syncs them before unlinking it (best effort: SSDs and
 * copy-on-write file systems keep old blocks; see the docs). Never follows a symlink: one is just unlinked.
 */
export async function overwriteAndUnlink(path: string): Promise<void> {
  const handle = await fsp.open(path, constants.O_RDWR | O_NOFOLLOW | O_NONBLOCK).catch(() => undefined);
  if (handle) {
    try {
      const stat = await handle.stat();
      if (stat.isFile() && stat.size > 0) {
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
}

/** The lock record written into a lock's symlink target (POSIX) or file body (Windows). */
interface LockRecord {
  pid: number;
  host: string;
  at: number;
  token: string;
}

function encodeRecord(r: LockRecord): string {
  return `nebula-lock:${r.pid}:${r.host}:${r.at}:${r.token}`;
}

function decodeRecord(text: string): LockRecord | undefined {
  const m = /^nebula-lock:(\d+):(.*):(\d+):([0-9a-f]+)$/.exec(text);
  return m ? { pid: Number(m[1]), host: m[2]!, at: Number(m[3]), token: m[4]! } : undefined;
}

async function createLock(path: string, record: LockRecord): Promise<void> {
  if (IS_WINDOWS) {
    // No unprivileged symlinks on Windows: an exclusive file; a holder dying before the write leaves an
    // empty lock, which only the age rule breaks.
    await fsp.writeFile(path, encodeRecord(record), { flag: 'wx', mode: 0o600 });
    return;
  }
  // A symlink is created with its content in one atomic call (as Emacs does for its lock files), so a
  // holder killed at any instant leaves either no lock or a complete record naming its pid. (Asynchronous:
  // a synchronous call can block the event loop while the journal commits other writers' fsyncs.)
  await fsp.symlink(encodeRecord(record), path);
}

async function readLock(path: string): Promise<LockRecord | 'unreadable' | undefined> {
  try {
    const text = IS_WINDOWS ? await fsp.readFile(path, 'utf8') : await fsp.readlink(path);
    return decodeRecord(text) ?? 'unreadable';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EINVAL') return 'unreadable'; // not a symlink: something else sits there
    throw error;
  }
}

async function lockAgeMs(path: string): Promise<number> {
  try {
    return Date.now() - (await fsp.lstat(path)).mtimeMs;
  } catch {
    return 0;
  }
}

const HOST = hostname();

function isStale(record: LockRecord, staleMs: number): boolean {
  if (record.host === HOST && !processAlive(record.pid)) return true;
  return Date.now() - record.at > staleMs;
}

/** Options of {@link acquireFileLock}. */
export interface FileLockOptions {
  /** A lock older than this, or held by a dead pid on this host, is broken. */
  staleMs: number;
  signal: AbortSignal;
  /** Called when a stale lock is broken (for a warning). */
  onBreak?: (holder: { pid: number; host: string } | undefined) => void;
}

/**
 * Takes the cross-process lock at `path`, waiting (with jittered backoff, until `signal` aborts) while a
 * live process holds it, and breaking it when its holder died or it is older than `staleMs`. Returns the
 * release function.
 *
 * Breaking is itself serialized through `<path>.break`, and the breaker re-reads the lock under it and
 * removes it only if it still holds the very record judged stale, so two processes breaking at once can
 * never remove a lock a third one just took.
 */
export async function acquireFileLock(path: string, options: FileLockOptions): Promise<() => Promise<void>> {
  const record: LockRecord = { pid: process.pid, host: HOST, at: Date.now(), token: '' };
  let delay = 1;
  for (;;) {
    options.signal.throwIfAborted();
    record.at = Date.now();
    record.token = randomBytes(8).toString('hex');
    try {
      await createLock(path, record);
      // Release without re-reading the record: only a holder slower than staleMs can have lost its lock, and
      // then the worst outcome is two writers renaming in turn, which the atomic rename keeps whole.
      return () => fsp.unlink(path).catch(() => {});
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readLock(path);
    if (holder === undefined) continue;
    const stale =
      holder === 'unreadable' ? (await lockAgeMs(path)) > options.staleMs : isStale(holder, options.staleMs);
    if (stale && (await breakLock(path, holder, options))) continue;
    await sleep(delay + Math.random() * delay, options.signal);
    delay = Math.min(delay * 2, 25);
  }
}

async function breakLock(
  path: string,
  seen: LockRecord | 'unreadable',
  options: FileLockOptions,
): Promise<boolean> {
  const breakPath = `${path}.break`;
  const me: LockRecord = {
    pid: process.pid,
    host: HOST,
    at: Date.now(),
    token: randomBytes(8).toString('hex'),
  };
  try {
    await createLock(breakPath, me);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // A breaker that died while breaking: its own lock is judged by the same rule.
    const other = await readLock(breakPath);
    if (other !== undefined && (other === 'unreadable' || isStale(other, options.staleMs))) {
      await fsp.unlink(breakPath).catch(() => {});
    }
    return false;
  }
  try {
    const now = await readLock(path);
    const same =
      now !== undefined &&
      (now === 'unreadable' ? seen === 'unreadable' : seen !== 'unreadable' && now.token === seen.token);
    if (!same) return now === undefined;
    await fsp.unlink(path);
    options.onBreak?.(seen === 'unreadable' ? undefined : { pid: seen.pid, host: seen.host });
    return true;
  } finally {
    await fsp.unlink(breakPath).catch(() => {});
  }
}

/** Removes the lock (or break lock) at `path` if its holder is dead or it is older than `staleMs`. */
export async function removeLockIfStale(path: string, staleMs: number): Promise<boolean> {
  const record = await readLock(path).catch(() => undefined);
  if (record === undefined) return false;
  const stale = record === 'unreadable' ? (await lockAgeMs(path)) > staleMs : isStale(record, staleMs);
  if (stale) await fsp.unlink(path).catch(() => {});
  return stale;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
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

/**
 * The `icacls` command that restricts `path` to one user, removing inherited entries: the directory gets
 * full control for the user, inherited by every file created in it (OI/CI), so files need no command of
 * their own. Returned as argv (no shell).
 *
 * @example
 * ```ts
 * import { icaclsRestrictCommand } from 'nebula-credential/local';
 * icaclsRestrictCommand('C:\\Users\\ada\\.nebula\\credentials', 'CONTOSO\\ada');
 * // ['icacls', 'C:\\Users\\ada\\.nebula\\credentials', '/inheritance:r', '/grant:r', 'CONTOSO\\ada:(OI)(CI)F', '/q']
 * ```
 */
export function icaclsRestrictCommand(
  path: string,
  user: string,
  kind: 'directory' | 'file' = 'directory',
): string[] {
  if (user.length === 0 || /[\0\r\n]/.test(user)) throw new TypeError('icacls: invalid user name');
  if (path.length === 0 || path.includes('\0')) throw new TypeError('icacls: invalid path');
  const grant = kind === 'directory' ? `${user}:(OI)(CI)F` : `${user}:F`;
  return ['icacls', path, '/inheritance:r', '/grant:r', grant, '/q'];
}

/** The Windows account to grant: `DOMAIN\user` from the environment, else the bare user name. */
export function windowsAccount(env: NodeJS.ProcessEnv, username: string): string {
  const domain = env['USERDOMAIN'];
  return domain ? `${domain}\\${username}` : username;
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
    case 'ENAMETOOLONG':
      return new StorageError({
        ...base,
        code: 'InvalidConfig',
        message: 'the credential directory path is too long for this file system; choose a shorter directory',
      });
    default:
      if (code !== undefined && RETRYABLE_ERRNO.has(code)) {
        return new StorageError({
          ...base,
          code: 'Unavailable',
          retryable: true,
          message: `a transient file-system error (${code}) occurred; the operation is retried`,
        });
      }
      return toStorageError(error, { provider, operation, credentialId });
  }
}
