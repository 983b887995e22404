import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Clock } from '../core/clock.js';
import { StorageError } from '../core/errors.js';
import { StopSignal } from '../core/operation.js';
import { processAlive, uniqueHex, uniqueSuffix } from './local-fs.js';

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
 *
 * Staleness. A holder renews its token every `staleMs / 4` while it holds the lock, by renaming it to a
 * freshly stamped name (atomic like every other move, so a renewal and a breaker racing for the same token
 * cannot both win). A waiter breaks the token at once when its holder is a dead pid on this host or its stamp
 * is older than `staleMs` by the waiter's clock; and, whatever the stamp says (one from the future: clock
 * skew on a shared volume, a clock stepped back), when the very same name stayed in place, unrenewed, for
 * `staleMs` of the waiter's own waiting. That wait is counted in the waiter's sleeps, not read off a wall
 * clock, so no clock step on either side can stretch it. `staleMs` is meant to be below the write deadline,
 * so a silent holder is broken before the writers waiting on it give up.
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

/** A holder renews its token this many times per `staleMs`: three renewals can be late before it is broken. */
const RENEWALS_PER_STALE_PERIOD = 4;

/** Why a waiter may take a token over. */
export type StaleReason = 'holder-died' | 'not-renewed';

function staleness(
  holder: Holder,
  staleMs: number,
  now: number,
  unchangedMs: number,
): StaleReason | undefined {
  if (holder.host === HOST_TAG && !processAlive(holder.pid)) return 'holder-died';
  if (now - holder.at > staleMs || unchangedMs >= staleMs) return 'not-renewed';
  return undefined;
}

function heldName(now: number): string {
  return `held-${process.pid}-${HOST_TAG}-${Math.floor(now)}-${uniqueHex()}`;
}

const errno = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

/** Options of {@link acquireLock}. */
export interface LockOptions {
  /** A token not renewed for this long (or whose holder pid is gone on this host) is broken. */
  staleMs: number;
  /** The attempt's signal, asked for only when the lock must be waited for (an AbortSignal costs microseconds). */
  signal: () => AbortSignal;
  /** Stamps, renewals and waits (the provider's clock, so tests drive them without sleeping). */
  clock: Clock;
  /** Called when a stale lock is broken (for a warning). */
  onBreak?: (holder: { pid: number; reason: StaleReason }) => void;
  /** Called when a symlink or a non-directory found in place of the lock directory was removed. */
  onReplace?: (path: string) => void;
}

/**
 * Lock directories hold nothing but a token, so whatever sits in place of one (a symlink, which is never
 * followed, or a file) is removed, never used; the caller then creates the real directory. True if it did.
 */
export async function removeIfNotDirectory(path: string): Promise<boolean> {
  let stat: Awaited<ReturnType<typeof fsp.lstat>>;
  try {
    stat = await fsp.lstat(path);
  } catch (error) {
    if (errno(error) === 'ENOENT') return false;
    throw error;
  }
  if (stat.isDirectory()) return false;
  await fsp.unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  return true;
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
 * process holds it and keeps renewing it, and breaking it when its holder died or stopped renewing it for
 * `staleMs`. The returned lock renews its own token until it is released.
 */
export async function acquireLock(lockDir: string, options: LockOptions): Promise<HeldLock> {
  const { clock, signal, staleMs } = options;
  if (await removeIfNotDirectory(lockDir)) options.onReplace?.(lockDir);
  let delay = 1;
  let watched: string | undefined;
  let unchangedMs = 0;
  for (let round = 0; ; round++) {
    if (round > 0) signal().throwIfAborted();
    const mine = heldName(clock.now());
    try {
      await fsp.rename(join(lockDir, FREE), join(lockDir, mine));
      return holdLock(lockDir, mine, options);
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
    if (holder.name !== watched) {
      watched = holder.name;
      unchangedMs = 0;
    }
    const reason = staleness(holder, staleMs, clock.now(), unchangedMs);
    if (reason) {
      try {
        await fsp.rename(join(lockDir, holder.name), join(lockDir, mine));
        options.onBreak?.({ pid: holder.pid, reason });
        return holdLock(lockDir, mine, options);
      } catch (error) {
        if (errno(error) !== 'ENOENT') throw error;
        continue; // someone else broke it, or the holder renewed or released it meanwhile
      }
    }
    const pause = delay + Math.random() * delay;
    await clock.sleep(pause, signal());
    unchangedMs += pause;
    delay = Math.min(delay * 2, 25);
  }
}

// The reason a renewal sleep is stopped with at release. Made once: abort() without a reason builds a
// DOMException, and the clock would wrap it in a new StorageError, two stack traces per write for nothing.
const RELEASED = new StorageError({ code: 'Aborted', message: 'the lock was released' });

/** The lock held under token `name`, renewed every `staleMs / 4` until released. */
function holdLock(lockDir: string, name: string, options: LockOptions): HeldLock {
  let token = name;
  let lost = false;
  // A StopSignal, not an AbortController: it has the surface Clock.sleep uses (aborted, reason, abort
  // listeners) without the EventTarget machinery, which cost a store microseconds for a renewal that almost
  // never runs.
  const stop = new StopSignal();
  const stopSignal = stop as unknown as AbortSignal;
  const renewing = (async () => {
    for (;;) {
      try {
        await options.clock.sleep(options.staleMs / RENEWALS_PER_STALE_PERIOD, stopSignal);
      } catch {
        return; // released
      }
      if (stop.aborted) return;
      const renewed = heldName(options.clock.now());
      try {
        await fsp.rename(join(lockDir, token), join(lockDir, renewed));
        token = renewed;
      } catch {
        // A waiter broke the token (this holder was silent for staleMs): nothing left to renew or give back.
        lost = true;
        return;
      }
    }
  })();
  const stopRenewing = async () => {
    stop.abort(RELEASED);
    await renewing;
  };
  return {
    release: async () => {
      await stopRenewing();
      if (!lost) await fsp.rename(join(lockDir, token), join(lockDir, FREE)).catch(() => {});
    },
    releaseAndRemove: async () => {
      await stopRenewing();
      if (!lost) await fsp.unlink(join(lockDir, token)).catch(() => {});
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
