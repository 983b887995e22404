import { createHash } from 'node:crypto';
import { type FSWatcher, promises as fsp, watch as watchDirectory } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BaseStorageProvider, type StoreAttemptOptions } from '../core/base-provider.js';
import { copyMetadata } from '../core/cache.js';
import type { EncryptedData } from '../core/crypto.js';
import { decodeCredentialDocument, encodeCredentialDocumentWithin } from '../core/document.js';
import { StorageError } from '../core/errors.js';
import { CredentialId } from '../core/id.js';
import { setBounded } from '../core/known-records.js';
import { assertWithinSizeLimit } from '../core/limits.js';
import {
  type CredentialFilter,
  type CredentialMetadata,
  matchesFilter,
  metadataForOverwrite,
  metadataToJson,
} from '../core/metadata.js';
import type { AttemptContext } from '../core/operation.js';
import type {
  ChangeFeed,
  ChangeSink,
  ChangeTarget,
  ProviderCapabilities,
  ProviderHealthFacts,
  StoredCredential,
  VersionProbe,
} from '../core/provider.js';
import {
  commitTempFile,
  fileIdentity,
  identityIsPrecise,
  KeyedMutex,
  makeDirectories,
  mapFsError,
  openDirectoryForSync,
  openTempFile,
  overwriteAndUnlink,
  ReadRefusal,
  readBounded,
  Semaphore,
  syncCommittedDirectory,
  syncDirectory,
  type TempFile,
  uniqueSuffix,
  writeDurably,
  writeTempFile,
} from './local-fs.js';
import { CREDENTIAL_SUFFIX, credentialPathParts, LOCKS_DIR, TOMB_PREFIX } from './local-layout.js';
import { acquireLock, type HeldLock, recoverLocks, removeIfNotDirectory } from './local-lock.js';
import { LOCAL, LOCAL_OPTIONS, type LocalStorageOptions } from './local-options.js';
import { checkDirectoryMode, checkFileMode, restrictWindowsAcl } from './local-permissions.js';
import {
  type FoundCredential,
  firstUnsafePieceDir,
  removeEmptyPieceDirs,
  removeLeftovers,
  walkCredentialFiles,
} from './local-tree.js';

export { credentialPathParts, idFromPathParts } from './local-layout.js';
export { LOCAL, LOCAL_OPTIONS, type LocalStorageOptions } from './local-options.js';
export { icaclsRestrictCommand, windowsAccount } from './local-permissions.js';

const PROVIDER_NAME = LOCAL;
const IS_WINDOWS = process.platform === 'win32';
// The document's fixed JSON (format, field names, version, key id, nonce and tag) is far below this.
const DOCUMENT_OVERHEAD = 1024;
const MAX_PARALLEL_IO = 64;
// A temp file lives as long as one write attempt, lock wait included; younger than this, one whose pid looks
// alive may be a live writer's in another pid namespace.
const LEFTOVER_MIN_AGE_MS = 30_000;
const mutex = new KeyedMutex();

/**
 * The default backend: one AES-GCM-encrypted document per credential in a directory only its owner can
 * read (0700, files 0600; on Windows an ACL for the current user alone). Writes are atomic and durable
 * (temp file, fsync, rename, fsync of the directory) and serialized per id across threads and processes;
 * `list` reads file names only. See docs/providers/local.md.
 *
 * @example
 * ```ts
 * import { LocalStorageProvider } from 'nebula-credential/local';
 * import { CredentialStore, EncryptionManager } from 'nebula-credential';
 * const provider = new LocalStorageProvider({ directory: './.credentials' });
 * const store = new CredentialStore(provider, EncryptionManager.generate());
 * await store.put('github_token', 'ghp_example');
 * console.log(await provider.list()); // ['github_token'], stored in ./.credentials/github_token.enc
 * await store.close();
 * ```
 */
export class LocalStorageProvider extends BaseStorageProvider<Buffer> {
  /** The provider's name: `'local'`. */
  readonly name = PROVIDER_NAME;
  /**
   * What this backend allows: `maxCredentialSize`, ids of up to 255 bytes, data that survives restarts; no
   * versions, no soft delete (docs/providers/local.md, Limits).
   */
  readonly capabilities: ProviderCapabilities;
  /** Absolute path of the credential directory. */
  readonly directory: string;
  readonly #createDirectory: boolean;
  readonly #maxMetadataBytes: number;
  readonly #maxFileBytes: number;
  readonly #lockStaleMs: number;
  readonly #policy: 'fix' | 'refuse';
  readonly #io = new Semaphore(MAX_PARALLEL_IO);
  readonly #uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  /** Ids whose file this provider last found unreadable (`Corrupted`), so replacing one is logged. */
  readonly #unreadable = new Set<string>();
  /**
   * Per id, the file this provider last read or wrote and its metadata, taken together from one descriptor:
   * a store that finds the same file under the lock (fileIdentity) needs nothing read to apply the
   * overwrite rule, so its temp file is written at once, as the durable-write floor does.
   */
  readonly #files = new Map<string, { identity: string; metadata: CredentialMetadata }>();

  /**
   * Validates `options` (every problem at once, `InvalidConfig`) without touching the disk; the directory is
   * created or checked at `connect()`.
   */
  constructor(options: LocalStorageOptions = {}) {
    const { values, secrets } = LOCAL_OPTIONS.resolve(options);
    super({
      name: PROVIDER_NAME,
      common: values,
      secrets,
      mapError: (e, operation, credentialId) => mapFsError(PROVIDER_NAME, e, operation, credentialId),
    });
    const { maxCredentialSize, maxMetadataBytes } = values;
    this.directory = resolve(values.directory);
    this.#createDirectory = values.createDirectory;
    this.#maxMetadataBytes = maxMetadataBytes;
    this.#maxFileBytes = 4 * Math.ceil(maxCredentialSize / 3) + maxMetadataBytes + DOCUMENT_OVERHEAD;
    this.#lockStaleMs = values.lockStaleMs;
    this.#policy = values.insecurePermissions;
    this.capabilities = {
      maxCredentialSize,
      maxIdBytes: 255,
      versioning: false,
      softDelete: false,
      nativeTagFiltering: false,
      createOnly: 'atomic',
      persistent: true,
    };
  }

  protected override prepareStore(
    id: CredentialId,
    data: EncryptedData,
    metadata: CredentialMetadata,
  ): Buffer {
    const size = Buffer.byteLength(JSON.stringify(metadataToJson(metadata)), 'utf8');
    assertWithinSizeLimit(size, this.#maxMetadataBytes, {
      provider: PROVIDER_NAME,
      credentialId: id.value,
      what: 'credential metadata',
    });
    const document = encodeCredentialDocumentWithin(data, metadata, this.#maxFileBytes, {
      provider: PROVIDER_NAME,
      credentialId: id.value,
      what: 'encoded credential document',
    });
    return Buffer.from(document, 'utf8');
  }

  protected async connectBackend(_a: AttemptContext): Promise<void> {
    const dir = this.directory;
    let stat = await fsp.lstat(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw error;
    });
    if (!stat) {
      if (!this.#createDirectory) {
        throw this.#configError(
          `the credential directory ${dir} does not exist (create it, or set createDirectory)`,
        );
      }
      await makeDirectories(dir);
      // mkdir's mode passes through the umask; the directory must be exactly 0700.
      if (!IS_WINDOWS) await fsp.chmod(dir, 0o700);
      await syncDirectory(dirname(dir)).catch(() => {});
      stat = await fsp.lstat(dir);
    }
    if (stat.isSymbolicLink()) {
      throw this.#configError(
        `the credential directory ${dir} is a symbolic link; set directory to the real path (a link can be re-pointed by whoever controls it)`,
      );
    }
    if (!stat.isDirectory()) throw this.#configError(`${dir} exists and is not a directory`);
    if (!IS_WINDOWS) {
      await checkDirectoryMode(dir, stat, this.#policy, {
        uid: this.#uid,
        refuse: (why) => this.#configError(why),
        warn: (mode) =>
          this.common.logger.warn(
            { provider: PROVIDER_NAME, directory: dir, mode },
            'credential directory was readable by group or others; tightened to 0700',
          ),
      });
    } else await restrictWindowsAcl(dir);
    const locksRoot = join(dir, LOCKS_DIR);
    // The lock root and the leftover sweep touch different entries (the sweep skips the lock root, which
    // is not a piece directory), so they run side by side: connect() waits for the longer, not the sum.
    const prepareLocks = async () => {
      if (await removeIfNotDirectory(locksRoot)) this.#warnReplacedLockDir(locksRoot);
      await fsp.mkdir(locksRoot, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      return recoverLocks(locksRoot);
    };
    const [removed, locks] = await Promise.all([
      removeLeftovers(dir, Math.max(this.#lockStaleMs, LEFTOVER_MIN_AGE_MS)),
      prepareLocks(),
    ]);
    if (removed + locks > 0) {
      this.common.logger.info(
        { provider: PROVIDER_NAME, tempFiles: removed, staleLocks: locks },
        'removed files left by writers that died',
      );
    }
  }

  protected async storeBackend(
    id: CredentialId,
    _bytes: Buffer,
    metadata: CredentialMetadata,
    a: AttemptContext,
    options: StoreAttemptOptions<Buffer>,
  ): Promise<CredentialMetadata> {
    const { dir, file, lock, parts } = this.#locate(id);
    return mutex.run(lock, () =>
      this.#io.run(async () => {
        for (let tries = 0; ; tries++) {
          await this.#assertPieceDirs(id, parts);
          let outcome: StoreOutcome;
          try {
            outcome = await this.#storeOnce(id, dir, file, lock, metadata, a, options);
          } catch (error) {
            const code = errnoOf(error);
            // A long id's piece directory is created on first use (or re-created after a concurrent delete
            // removed it when it was empty).
            if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dir === this.directory || tries >= 5)
              throw error;
            await makeDirectories(dir);
            continue;
          }
          // Our temp file vanished: a connect() in another pid namespace took it for a dead writer's.
          if ('vanished' in outcome) {
            if (tries < 5) continue;
            throw outcome.vanished;
          }
          if (this.#unreadable.delete(id.value)) {
            this.common.logger.warn(
              { provider: PROVIDER_NAME, credentialId: id.value },
              'replaced an unreadable credential file (truncated, damaged or not a regular file) with the new value',
            );
          }
          return outcome.written;
        }
      }),
    );
  }

  /**
   * One attempt of a store. The overwrite rule needs the current document, read before the lock and confirmed
   * under it (every commit renames a new file in, so the same inode means the same document); only when
   * another writer got in between is it read again, under the lock. Everything that does not wait for that
   * document starts at once, each on its own thread-pool thread: the temp file's open (its name is unique and
   * it is invisible until renamed, so it needs no lock), the directory's open for the final fsync, and the lock,
   * whose inode check runs while the temp file is written. Descriptors are closed beside the next step rather
   * than before it. Only the commit (rename) is under the lock; the directory fsync completes before the store
   * resolves, beside the lock's release (see syncCommittedDirectory).
   */
  async #storeOnce(
    id: CredentialId,
    dir: string,
    file: string,
    lock: string,
    metadata: CredentialMetadata,
    a: AttemptContext,
    options: StoreAttemptOptions<Buffer>,
  ): Promise<StoreOutcome> {
    const closing: Promise<void>[] = [];
    // Queued on the thread pool in the order they are needed: the read of the current document is the
    // longest chain, the directory is needed last.
    const remembered = this.#files.get(id.value);
    const currentP: Promise<CurrentFile> = remembered
      ? Promise.resolve({ metadata: remembered.metadata, identity: remembered.identity })
      : this.#currentFile(id, file, closing);
    const tempP = openTempFile(dir);
    const heldP = this.#acquire(id, lock, a);
    const lockedInoP = heldP.then(() => identityOf(file));
    // Only the credential directory itself is opened ahead: the provider never removes it, while a piece
    // directory can be removed by a delete (of another id sharing it) and re-created between this open and the
    // rename, leaving the descriptor on the removed one. A piece directory is opened by path after the rename.
    const dirP = dir === this.directory ? openDirectoryForSync(dir) : Promise.resolve(undefined);
    const preparedP = (async () => {
      const [current, temp] = await Promise.allSettled([currentP, tempP]);
      if (current.status === 'rejected') throw current.reason;
      if (temp.status === 'rejected') throw temp.reason;
      const next = metadataForOverwrite(current.value.metadata, metadata, options);
      await writeDurably(temp.value.handle, options.prepare(next));
      return { current: current.value, next };
    })();
    const [prepared, held, lockedIno, temp, dirHandle] = await Promise.allSettled([
      preparedP,
      heldP,
      lockedInoP,
      tempP,
      dirP,
    ]);
    const directory = dirHandle.status === 'fulfilled' ? dirHandle.value : undefined;
    let tempPath = temp.status === 'fulfilled' ? temp.value.path : undefined;
    let tempClosed = temp.status === 'fulfilled' ? undefined : Promise.resolve();
    const closeTemp = () => {
      tempClosed ??= (temp as PromiseFulfilledResult<TempFile>).value.handle.close().catch(() => {});
      return tempClosed;
    };
    const abandon = async () => {
      await Promise.all([
        closeTemp(),
        directory?.close().catch(() => {}),
        held.status === 'fulfilled' ? held.value.release() : undefined,
        ...closing,
      ]);
      if (tempPath !== undefined) await fsp.unlink(tempPath).catch(() => {});
    };
    if (
      prepared.status === 'rejected' ||
      held.status === 'rejected' ||
      lockedIno.status === 'rejected' ||
      dirHandle.status === 'rejected'
    ) {
      await abandon();
      for (const r of [prepared, held, lockedIno, dirHandle]) if (r.status === 'rejected') throw r.reason;
    }
    let { current, next } = (
      prepared as PromiseFulfilledResult<{ current: CurrentFile; next: CredentialMetadata }>
    ).value;
    // The directory's close follows its fsync at once, beside the release, rather than after everything.
    const syncDirectoryOnce = () =>
      directory
        ? directory.sync().finally(() => directory.close().catch(() => {}))
        : syncCommittedDirectory(dir);
    let synced: Promise<void> = Promise.resolve();
    try {
      let written = (temp as PromiseFulfilledResult<TempFile>).value.path;
      let reread = false;
      if ((lockedIno as PromiseFulfilledResult<string | undefined>).value !== current.identity) {
        reread = true;
        await closeTemp();
        await fsp.unlink(written).catch(() => {});
        tempPath = undefined;
        current = await this.#currentFile(id, file);
        next = metadataForOverwrite(current.metadata, metadata, options);
        written = await writeTempFile(dir, options.prepare(next));
        tempPath = written;
      }
      // Confirmed under the lock: any file there (readable or not) refuses a create.
      if (options.createOnly && current.identity !== undefined) throw this.alreadyExists(id);
      if (IS_WINDOWS || reread) {
        // Windows may refuse to rename a file that is still open.
        await Promise.all([commitTempFile(written, file), closeTemp()]);
        synced = syncDirectoryOnce();
        this.#files.delete(id.value);
      } else {
        // POSIX renames an open file; our own descriptor then tells the committed file's identity with no
        // race against another writer's rename, beside the directory's fsync (started first: the longest).
        const handle = (temp as PromiseFulfilledResult<TempFile>).value.handle;
        await commitTempFile(written, file);
        synced = syncDirectoryOnce();
        const identity = handle.stat().then(
          (stat) => (identityIsPrecise(stat) ? fileIdentity(stat) : undefined),
          () => undefined,
        );
        tempClosed = identity.then(() => handle.close()).catch(() => {});
        closing.push(
          tempClosed,
          identity.then((committed) => {
            if (committed === undefined) this.#files.delete(id.value);
            else this.#remember(id, committed, next);
          }),
        );
      }
      tempPath = undefined;
    } catch (error) {
      await abandon();
      if (errnoOf(error) === 'ENOENT') return { vanished: error };
      throw error;
    }
    const release = (held as PromiseFulfilledResult<HeldLock>).value.release();
    // Settled, not raced: the store resolves (or fails) only once the token is back and every descriptor closed.
    const [, sync] = await Promise.allSettled([release, synced, ...closing]);
    if (sync.status === 'rejected') throw sync.reason;
    return { written: next };
  }

  /**
   * The file a store would replace: its metadata (absent when there is no file, or it is unreadable and so
   * replaced) and its inode, by which the store confirms under the lock that it is still the same file.
   */
  async #currentFile(id: CredentialId, file: string, closing?: Promise<void>[]): Promise<CurrentFile> {
    try {
      const read = await this.#read(id, file, closing);
      if (read === undefined) return {};
      return { metadata: decodeCredentialDocument(read.bytes, id.value).metadata, identity: read.identity };
    } catch (error) {
      // A symbolic link planted as the file is never followed: the rename replaces the link itself.
      if (errnoOf(error) !== 'ELOOP') {
        if (!(error instanceof StorageError && error.code === 'Corrupted')) throw error;
        this.#unreadable.add(id.value);
      }
      return { identity: await identityOf(file) };
    }
  }

  #remember(id: CredentialId, identity: string, metadata: CredentialMetadata): void {
    setBounded(this.#files, id.value, { identity, metadata: copyMetadata(metadata) });
  }

  protected async retrieveBackend(id: CredentialId, _a: AttemptContext): Promise<StoredCredential> {
    try {
      const stored = await this.#retrieveFile(id);
      this.#unreadable.delete(id.value);
      return stored;
    } catch (error) {
      if (error instanceof StorageError && error.code === 'Corrupted') this.#unreadable.add(id.value);
      throw error;
    }
  }

  #retrieveFile(id: CredentialId): Promise<StoredCredential> {
    return this.#io.run(async () => {
      const { file, parts } = this.#locate(id);
      await this.#assertPieceDirs(id, parts);
      for (let attempt = 0; ; attempt++) {
        const read = await this.#read(id, file);
        if (read === undefined) throw this.notFound(id);
        try {
          const stored = decodeCredentialDocument(read.bytes, id.value);
          if (read.identityIsPrecise) this.#remember(id, read.identity, stored.metadata);
          return stored;
        } catch (error) {
          // A delete renames the file away before overwriting it; a reader holding the old descriptor can
          // see the zeros. If the name no longer points at what we read, read again instead of crying wolf.
          const now = await fsp.lstat(file).catch(() => undefined);
          if (attempt === 0 && (now === undefined || now.ino !== read.ino)) continue;
          throw error;
        }
      }
    });
  }

  protected async deleteBackend(id: CredentialId, a: AttemptContext): Promise<void> {
    const { dir, file, lock, parts } = this.#locate(id);
    await this.#locked(id, lock, a, async () => {
      await this.#assertPieceDirs(id, parts);
      const tomb = join(dir, `${TOMB_PREFIX}${uniqueSuffix()}`);
      try {
        await fsp.rename(file, tomb);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return 'removed';
        throw error;
      }
      // The name is gone atomically first; then the old bytes are overwritten and synced before unlink.
      await syncDirectory(dir);
      this.#unreadable.delete(id.value);
      this.#files.delete(id.value);
      const wiped = await overwriteAndUnlink(tomb);
      if (!wiped.overwritten) {
        this.common.logger.warn(
          { provider: PROVIDER_NAME, credentialId: id.value, links: wiped.links },
          'deleted a credential file that has other hard links (a backup?) without overwriting it: its bytes stay readable through those links',
        );
      }
      await syncDirectory(dir);
      await removeEmptyPieceDirs(dir, this.directory);
      return 'removed';
    });
  }

  protected async listBackend(filter: CredentialFilter | undefined, _a: AttemptContext): Promise<string[]> {
    const found: FoundCredential[] = [];
    await walkCredentialFiles(this.directory, [], found);
    const filtering =
      filter !== undefined &&
      (Object.keys(filter.tags ?? {}).length > 0 || filter.createdAfter || filter.createdBefore);
    if (!filtering) return found.map((f) => f.id);
    // Filters need metadata: read each document (never decrypt). Unreadable ones are skipped with a warning.
    const matches = await Promise.all(
      found.map(({ id: value, dir, name }) =>
        this.#io.run(async () => {
          const id = CredentialId.parse(value);
          try {
            const read = await this.#read(id, join(dir, name));
            if (!read) return false;
            return matchesFilter(decodeCredentialDocument(read.bytes, id.value).metadata, filter);
          } catch (error) {
            const code = error instanceof StorageError ? error.code : 'Internal';
            this.common.logger.warn(
              { provider: PROVIDER_NAME, operation: 'list', credentialId: id.value, code },
              'skipped an unreadable credential while filtering',
            );
            return false;
          }
        }),
      ),
    );
    return found.filter((_, i) => matches[i]).map((f) => f.id);
  }

  protected async existsBackend(id: CredentialId, _a: AttemptContext): Promise<boolean> {
    const { file, parts } = this.#locate(id);
    try {
      if (parts.length > 1 && (await firstUnsafePieceDir(this.directory, parts))) return false;
      return (await fsp.lstat(file)).isFile();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw error;
    }
  }

  /** The file's inode and modification time: every write renames a new file into place, so both move. */
  protected override async describeVersionBackend(
    id: CredentialId,
    _a: AttemptContext,
  ): Promise<VersionProbe | undefined> {
    return this.#fileVersion(this.#locate(id).file);
  }

  protected override async listVersionsBackend(
    filter: CredentialFilter | undefined,
    a: AttemptContext,
  ): Promise<Map<string, VersionProbe>> {
    const ids = await this.listBackend(filter, a);
    const out = new Map<string, VersionProbe>();
    await Promise.all(
      ids.map((value) =>
        this.#io.run(async () => {
          const probe = await this.#fileVersion(this.#locate(CredentialId.parse(value)).file);
          if (probe) out.set(value, probe);
        }),
      ),
    );
    return out;
  }

  /**
   * File-system events on the credential's directory wake the watch at once; they can be lost (network
   * file systems, full inotify tables), so the watch keeps polling the file's inode and mtime as well.
   */
  protected override subscribeChangesBackend(target: ChangeTarget, sink: ChangeSink): ChangeFeed {
    const dir = target.kind === 'id' ? dirname(this.#locate(target.id).file) : this.directory;
    const name = target.kind === 'id' ? basename(this.#locate(target.id).file) : undefined;
    let watcher: FSWatcher | undefined;
    try {
      watcher = watchDirectory(dir, { persistent: false }, (_event, file) => {
        const changed = file === null ? undefined : String(file);
        if (changed === undefined || (name ? changed === name : changed.endsWith(CREDENTIAL_SUFFIX)))
          sink.wake();
      });
      watcher.on('error', (error) => {
        sink.error(mapFsError(PROVIDER_NAME, error, 'watch', undefined), false);
        watcher?.close();
      });
    } catch (error) {
      // No events here (the directory of a long id may not exist yet): the poll alone watches.
      sink.error(mapFsError(PROVIDER_NAME, error, 'watch', undefined), false);
    }
    return { complete: false, close: () => watcher?.close() };
  }

  protected override describeHealth(): ProviderHealthFacts {
    return { credentialSource: `directory ${this.directory}`, auth: { kind: 'none' } };
  }

  async #fileVersion(file: string): Promise<VersionProbe | undefined> {
    try {
      const stat = await fsp.lstat(file, { bigint: true });
      if (!stat.isFile()) return undefined;
      return { version: `${stat.ino.toString(36)}.${stat.mtimeNs.toString(36)}.${stat.size.toString(36)}` };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw error;
    }
  }

  #locate(id: CredentialId): { dir: string; file: string; lock: string; parts: string[] } {
    const parts = credentialPathParts(id);
    const file = join(this.directory, ...parts);
    const hash = createHash('sha256').update(parts.join('/')).digest('hex').slice(0, 40);
    return { dir: dirname(file), file, lock: join(this.directory, LOCKS_DIR, hash), parts };
  }

  /**
   * Refuses a long id whose piece directories are not all real directories: a symlinked one would put the
   * credential wherever it points (say a world-writable directory), where `list` never looks.
   */
  async #assertPieceDirs(id: CredentialId, parts: readonly string[]): Promise<void> {
    if (parts.length === 1) return;
    const unsafe = await firstUnsafePieceDir(this.directory, parts);
    if (unsafe === undefined) return;
    throw new StorageError({
      code: 'PermissionDenied',
      message: `a symbolic link (or a file) sits where a piece directory of credential "${id.value}" belongs (${unsafe}); it is not followed: remove it`,
      provider: PROVIDER_NAME,
      credentialId: id.value,
    });
  }

  /** Runs `fn` holding the in-process queue and the cross-process lock of `id`. */
  async #locked(
    id: CredentialId,
    lock: string,
    a: AttemptContext,
    fn: () => Promise<'removed' | 'kept'>,
  ): Promise<void> {
    await mutex.run(lock, () =>
      this.#io.run(async () => {
        const held = await this.#acquire(id, lock, a);
        let outcome: 'removed' | 'kept' = 'kept';
        try {
          outcome = await fn();
        } finally {
          // A deleted id's lock directory goes too, so ids that come and go leave nothing behind.
          await (outcome === 'removed' ? held.releaseAndRemove() : held.release());
        }
      }),
    );
  }

  /** Takes the cross-process lock of `id` (see local-lock.ts). */
  #acquire(id: CredentialId, lock: string, a: AttemptContext): Promise<HeldLock> {
    return acquireLock(lock, {
      staleMs: this.#lockStaleMs,
      signal: () => a.signal,
      clock: this.common.clock,
      onBreak: (holder) =>
        this.common.logger.warn(
          { provider: PROVIDER_NAME, credentialId: id.value, holderPid: holder.pid, reason: holder.reason },
          holder.reason === 'holder-died'
            ? 'broke a stale lock left by a writer that died'
            : `broke a stale lock its holder had not renewed for lockStaleMs (${this.#lockStaleMs} ms): a hung process, or a host whose clock differs`,
        ),
      onReplace: (path) => this.#warnReplacedLockDir(path),
    });
  }

  #warnReplacedLockDir(path: string): void {
    this.common.logger.warn(
      { provider: PROVIDER_NAME, path },
      'removed a symbolic link (or a file) found where a lock directory belongs; locks are never taken through one',
    );
  }

  /** Reads a credential file (bounded, no symlinks), enforcing the permission policy; undefined if absent. */
  async #read(id: CredentialId, file: string, closing?: Promise<void>[]) {
    try {
      return await readBounded(
        file,
        this.#maxFileBytes,
        (handle, stat) =>
          checkFileMode(handle, stat, this.#policy, {
            uid: this.#uid,
            refuse: (why) => this.#permissionError(id, why),
            warn: (mode) =>
              this.common.logger.warn(
                { provider: PROVIDER_NAME, credentialId: id.value, mode },
                'credential file was readable by group or others; tightened to 0600',
              ),
          }),
        closing,
      );
    } catch (error) {
      if (error instanceof ReadRefusal) {
        throw new StorageError({
          code: 'Corrupted',
          message:
            error.reason === 'too-large'
              ? `the file of credential "${id.value}" is ${error.size} bytes, larger than any file this provider writes (${this.#maxFileBytes}); refused without reading it`
              : `the file of credential "${id.value}" is not a regular file`,
          provider: PROVIDER_NAME,
          credentialId: id.value,
          details: { size: error.size, limit: this.#maxFileBytes },
        });
      }
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw error;
    }
  }

  #configError(message: string): StorageError {
    return new StorageError({
      code: 'InvalidConfig',
      message,
      provider: PROVIDER_NAME,
      operation: 'connect',
    });
  }

  #permissionError(id: CredentialId, why: string): StorageError {
    return new StorageError({
      code: 'PermissionDenied',
      message: `refusing to read credential "${id.value}": ${why}`,
      provider: PROVIDER_NAME,
      credentialId: id.value,
    });
  }
}

/** What a store replaces: see LocalStorageProvider#currentFile. */
interface CurrentFile {
  metadata?: CredentialMetadata | undefined;
  /** fileIdentity of the file; absent when there is none. */
  identity?: string | undefined;
}

/** The metadata a store attempt wrote, or the error of a commit whose temp file was removed under it. */
type StoreOutcome = { written: CredentialMetadata } | { vanished: unknown };

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** The inode at `path` (not following a link), or undefined when nothing is there. */
async function identityOf(path: string): Promise<string | undefined> {
  try {
    return fileIdentity(await fsp.lstat(path));
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}
