import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { processAlive, uniqueSuffix } from './local-fs.js';

/**
 * Cross-process locks made of one token file per id, moved by rename.
 *
 * Each id has a lock directory holding exactly one token: `free` when nobody holds the lock, or
 * `held-<pid>-<host>-<ms>-<random>` naming its holder. Taking the lock is `rename(free, held-…)`, releasing it
 * is the rename back: rename is atomic, so exactly one of several racers wins, and a holder killed at any
 * instant leaves a token that names it. Breaking a stale lock is `rename(held-<dead holder>, held-<me>)`:
 * the source name is unique to that holding, so only one breaker can win and a lock taken since cannot be
 * broken by mistake. Unlike lock files that are created and unlinked per write, no inode is allocated or
 * freed, which keeps the journal commit behind the write's fsync as small as the bare write's.
 *
 * A lock directory is created complete or not at all: a temp directory with its `free` token is renamed
 * into place (rename onto an existing, non-empty directory fails). A lock directory found empty (its last
 * holder removed it while deleting the credential) is removed and re-created the same way.
 */

const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 12);
const FREE = 'free';
const HELD = /^held-(\d+)-([0-9a-f]{12})-(\d+)-[0-9a-f]+$/;
/** Prefix of a lock directory being initialised: `<lock dir><INIT_MARK><pid>-<random>`. */
export const INIT_MARK = '.init-';

interface Holder {
  name: string;
  pid: number;
  host: string;
  at: number;
}

function parseHolder(name: string): Holder | undefined {
  const m = HELD.exec(name);
  return m ? { name, pid: Number(m[1]), host: m[2]!, at: Number(m[3]) } : undefined;
}

function isStale(holder: Holder, staleMs: number): boolean {
  if (holder.host === HOST_TAG && !processAlive(holder.pid)) return true;
  return Date.now() - holder.at > staleMs;
}

function heldName(): string {
  return `held-${process.pid}-${HOST_TAG}-${Date.now()}-${randomBytes(8).toString('hex')}`;
}

const errno = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

/** Options of {@link acquireLock}. */
export interface LockOptions {
  /** A lock held longer than this, or by a pid that is gone on this host, is broken. */
  staleMs: number;
  signal: AbortSignal;
  /** Called when a stale lock is broken (for a warning). */
  onBreak?: (holder: { pid: number }) => void;
}

/** A held lock. */
export interface HeldLock {
  /** Gives the token back. */
  release(): Promise<void>;
  /** Releases the lock and removes its directory (when the id's file is gone for good). */
  releaseAndRemove(): Promise<void>;
}

/**
 * Takes the lock kept in `lockDir`, waiting with jittered backoff (until `signal` aborts) while a live
 * process holds it, and breaking it when its holder died or holds it longer than `staleMs`.
 */
export async function acquireLock(lockDir: string, options: LockOptions): Promise<HeldLock> {
  let delay = 1;
  for (;;) {
    options.signal.throwIfAborted();
    const mine = join(lockDir, heldName());
    try {
      await fsp.rename(join(lockDir, FREE), mine);
      return held(lockDir, mine);
    } catch (error) {
      if (errno(error) !== 'ENOENT') throw error;
    }
    let names: string[];
    try {
      names = await fsp.readdir(lockDir);
    } catch (error) {
      if (errno(error) !== 'ENOENT') throw error;
      await createLockDir(lockDir);
      continue;
    }
    if (names.includes(FREE)) continue;
    const holder = names.map(parseHolder).find((h) => h !== undefined);
    if (!holder) {
      // No token at all: the last holder removed the directory's contents while deleting. Re-create it.
      await fsp.rmdir(lockDir).catch(() => {});
      continue;
    }
    if (isStale(holder, options.staleMs)) {
      try {
        await fsp.rename(join(lockDir, holder.name), mine);
        options.onBreak?.({ pid: holder.pid });
        return held(lockDir, mine);
      } catch (error) {
        if (errno(error) !== 'ENOENT') throw error;
        continue; // someone else broke it, or the holder released it meanwhile
      }
    }
    await sleep(delay + Math.random() * delay, options.signal);
    delay = Math.min(delay * 2, 25);
  }
}

function held(lockDir: string, mine: string): HeldLock {
  return {
    // ENOENT: a holder slower than staleMs lost its token to a breaker; nothing to give back.
    release: () => fsp.rename(mine, join(lockDir, FREE)).catch(() => {}),
    releaseAndRemove: async () => {
      await fsp.unlink(mine).catch(() => {});
      await fsp.rmdir(lockDir).catch(() => {});
    },
  };
}

async function createLockDir(lockDir: string): Promise<void> {
  const temp = `${lockDir}${INIT_MARK}${uniqueSuffix()}`;
  await fsp.mkdir(temp, { mode: 0o700 }).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
    // The locks directory itself was removed while we ran: put it back.
    await fsp.mkdir(dirname(lockDir), { recursive: true, mode: 0o700 });
    await fsp.mkdir(temp, { mode: 0o700 });
  });
  try {
    await fsp.writeFile(join(temp, FREE), '', { flag: 'wx', mode: 0o600 });
    await fsp.rename(temp, lockDir);
  } catch (error) {
    await fsp.rm(temp, { recursive: true, force: true });
    const code = errno(error);
    if (code !== 'EEXIST' && code !== 'ENOTEMPTY' && code !== 'EPERM' && code !== 'EACCES') throw error;
  }
}

/**
 * At connect: removes half-initialised lock directories of dead processes (one readdir, however many ids).
 * Tokens still held by dead holders are not looked for here, which would cost a readdir per id: the next
 * writer of that id takes them over at once (the pid is gone). Returns how many it removed.
 */
export async function recoverLocks(locksRoot: string): Promise<number> {
  let removed = 0;
  let names: string[];
  try {
    names = await fsp.readdir(locksRoot);
  } catch {
    return 0;
  }
  for (const name of names) {
    const init = name.indexOf(INIT_MARK);
    if (init < 0) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(init + INIT_MARK.length))?.[1]);
    if (!processAlive(pid)) {
      await fsp.rm(join(locksRoot, name), { recursive: true, force: true }).catch(() => {});
      removed++;
    }
  }
  return removed;
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
