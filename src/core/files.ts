import { constants, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { untilAborted } from './abort.js';
import { describeType, invalidArgument } from './arguments.js';
import { StorageError, type StorageOperation } from './errors.js';

/** Options of {@link readBoundedFile}. */
export interface BoundedFileReadOptions {
  /** Largest size accepted, in bytes; a larger file is refused before it is read. */
  maxBytes: number;
  /** What the file is, in the user's words ("the key file", "the CA bundle"), for messages. */
  what: string;
  /** The option or setting that named the path (`encryption.keyFile`, `tls.caFile`), for messages. */
  option?: string | undefined;
  /** The provider whose configuration named the file, if any. */
  provider?: string | undefined;
  /** Operation named in errors. Default `configure`. */
  operation?: StorageOperation | undefined;
  /**
   * Aborts the read (pass the connect deadline's signal). A `StorageError` reason (a `Timeout`) is thrown
   * as it is; any other reason gives `Aborted`.
   */
  signal?: AbortSignal | undefined;
  /** Appended to the message when the file does not exist, e.g. how to create it. */
  missingHint?: string | undefined;
  /**
   * Extra checks on the opened file's status before it is read (permissions, owner); return a problem to
   * refuse it with `InvalidConfig`, or `undefined` to accept it.
   */
  checkFile?: ((info: Stats) => string | undefined) | undefined;
}

/**
 * Default size bounds for the files the library reads. Keys and passphrases are tiny; CA bundles and
 * kubeconfigs are text files of a few KiB; the bound only has to stop an accident (a log file, /dev/zero).
 *
 * @example
 * ```ts
 * import { FILE_SIZE_LIMITS } from 'nebula-credential';
 * console.log(FILE_SIZE_LIMITS.caBundle); // 4194304
 * ```
 */
export const FILE_SIZE_LIMITS = Object.freeze({
  keyFile: 64 * 1024,
  caBundle: 4 * 1024 * 1024,
  kubeconfig: 4 * 1024 * 1024,
  configFile: 1024 * 1024,
  token: 1024 * 1024,
});

/**
 * Reads a whole configuration file (key, passphrase, CA bundle, kubeconfig, token) safely: it must be a
 * regular file no larger than `maxBytes`. The file is opened non-blocking and checked on the open handle,
 * so a FIFO, a device or a directory is refused at once (never waited on) and a file swapped in between
 * a check and the read cannot slip through. Every failure is an `InvalidConfig` (or `Aborted`) naming the
 * option and the path, never the content.
 *
 * @example
 * ```ts
 * import { readBoundedFile } from 'nebula-credential';
 * const pem = await readBoundedFile('/etc/ssl/certs/ca-certificates.crt', {
 *   maxBytes: 4 * 1024 * 1024, what: 'the CA bundle', option: 'tls.caFile' });
 * console.log(pem.length > 0);
 * ```
 */
export async function readBoundedFile(path: string, options: BoundedFileReadOptions): Promise<Buffer> {
  const read = new BoundedRead(path, options);
  read.throwIfAborted();
  let handle: FileHandle;
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
  const opening = open(path, OPEN_FLAGS);
  try {
    handle = await read.race(opening);
  } catch (error) {
    // An open the deadline gave up on may still succeed: close what it returns.
    opening.then((h) => h.close()).catch(() => {});
    throw read.openFailure(error);
  }
  let abandoned = false;
  try {
    const info = await read.race(handle.stat());
    read.check(info);
    // Sized from fstat, not from the bound: a 1 MiB zeroed buffer for a 120-byte config file costs more
    // than reading it. One byte of room past the size shows whether the file grew; a file that grows is
    // read on into a larger buffer, never past the bound plus one byte, so it is still refused.
    // (Files that report no size, as in /proc, start at 8 KiB.)
    let buffer = Buffer.alloc(Math.min(Math.max(info.size, 8191), options.maxBytes) + 1);
    let length = 0;
    for (;;) {
      read.throwIfAborted();
      if (length === buffer.length) {
        const larger = Buffer.alloc(Math.min(buffer.length * 2, options.maxBytes + 1));
        buffer.copy(larger, 0, 0, length);
        buffer.fill(0);
        buffer = larger;
      }
      const room = buffer.length - length;
      const { bytesRead } = await read.race(handle.read(buffer, length, room, null));
      if (bytesRead === 0) break;
      length += bytesRead;
      read.checkLength(length);
      // A regular file's short read is its end (the size fstat gave, the byte of room unfilled): no
      // second read, one thread-pool round trip fewer, to learn what is already known.
      if (bytesRead < room && length === info.size) break;
    }
    return buffer.subarray(0, length);
  } catch (error) {
    // A read the deadline gave up on may still be pending in the thread pool: close when it returns.
    abandoned = options.signal?.aborted === true;
    throw read.readFailure(error);
  } finally {
    const closing = handle.close().catch(() => {});
    if (!abandoned) await closing;
  }
}

const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/**
 * Applies {@link readBoundedFile}'s checks (a regular file, at most `maxBytes`, `checkFile`) to a file some
 * other code will read, without reading it: for files an SDK reads whole with `fs.readFile` (a FIFO would
 * hold a thread-pool thread until a writer comes, a huge file would be read whole). With `skipUnopenable`, a
 * file that cannot be opened (missing, unreadable) resolves `false`, for SDKs that ignore such a file; one
 * that passes resolves `true`; every refusal is the same `InvalidConfig` readBoundedFile gives. The check runs on an open
 * non-blocking handle; a file swapped in after it is the caller's accepted race.
 *
 * @example
 * ```ts
 * await checkBoundedFile(`${process.env.HOME}/.aws/config`, {
 *   maxBytes: 1024 * 1024, what: 'the AWS shared config file', option: 'AWS_CONFIG_FILE', skipUnopenable: true });
 * ```
 *
 * @internal
 */
export async function checkBoundedFile(
  path: string,
  options: BoundedFileReadOptions & { skipUnopenable?: boolean | undefined },
): Promise<boolean> {
  const read = new BoundedRead(path, options);
  read.throwIfAborted();
  const opening = open(path, OPEN_FLAGS);
  let handle: FileHandle;
  try {
    handle = await read.race(opening);
  } catch (error) {
    opening.then((h) => h.close()).catch(() => {});
    if (options.skipUnopenable && !(error instanceof StorageError)) return false;
    throw read.openFailure(error);
  }
  try {
    read.check(await read.race(handle.stat()));
    return true;
  } catch (error) {
    throw read.readFailure(error);
  } finally {
    await handle.close().catch(() => {});
  }
}

/** The checks and the error wording of one bounded read. */
class BoundedRead {
  readonly #path: string | undefined;
  readonly #options: BoundedFileReadOptions;
  readonly #named: string;

  constructor(path: unknown, options: BoundedFileReadOptions) {
    if (typeof options !== 'object' || options === null) {
      throw invalidArgument(
        `the options of readBoundedFile must be an object { maxBytes, what } (got ${describeType(options)})`,
      );
    }
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 0) {
      throw invalidArgument(
        `readBoundedFile needs maxBytes, a whole number of bytes (got ${describeType(options.maxBytes)})`,
      );
    }
    this.#options = options;
    this.#path = undefined;
    const where = `${options.what}${options.option ? ` (${options.option})` : ''}`;
    if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
      throw this.#fail(
        typeof path === 'string'
          ? `the path of ${where} must be a non-empty path without NUL characters`
          : `the path of ${where} must be a string (got ${describeType(path)})`,
      );
    }
    this.#path = path;
    this.#named = `${options.what} ${JSON.stringify(path)}${options.option ? ` (${options.option})` : ''}`;
  }

  throwIfAborted(): void {
    const signal = this.#options.signal;
    if (!signal?.aborted) return;
    if (signal.reason instanceof StorageError) throw signal.reason;
    throw this.#fail(`reading ${this.#named} was aborted`, 'Aborted', signal.reason);
  }

  /** `promise`, or the abort when the signal fires first (a blocked read must not hold the caller). */
  race<T>(promise: Promise<T>): Promise<T> {
    const signal = this.#options.signal;
    if (!signal) return promise;
    return untilAborted(promise, signal, () => {
      try {
        this.throwIfAborted();
      } catch (error) {
        return error;
      }
      return signal.reason;
    });
  }

  openFailure(error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? `does not exist${this.#options.missingHint ? `; ${this.#options.missingHint}` : ''}`
        : code === 'EACCES' || code === 'EPERM'
          ? 'is not readable by this process'
          : code === 'EISDIR'
            ? 'is a directory, not a file'
            : code === 'ELOOP'
              ? 'is a symbolic link loop'
              : code === 'ENOTDIR'
                ? 'is under something that is not a directory'
                : `cannot be opened (${code ?? 'unknown error'})`;
    return this.#fail(`${this.#named} ${why}`, 'InvalidConfig', error);
  }

  check(info: Stats): void {
    if (!info.isFile()) {
      const kind = info.isDirectory()
        ? 'a directory'
        : info.isFIFO()
          ? 'a FIFO (named pipe)'
          : info.isSocket()
            ? 'a socket'
            : info.isCharacterDevice() || info.isBlockDevice()
              ? 'a device'
              : 'not a regular file';
      throw this.#fail(`${this.#named} is ${kind}; give the path of a regular file`);
    }
    const problem = this.#options.checkFile?.(info);
    if (problem !== undefined) throw this.#fail(`${this.#named} ${problem}`);
    if (info.size > this.#options.maxBytes) {
      throw this.#fail(
        `${this.#named} is ${info.size} bytes, more than the ${this.#options.maxBytes} bytes accepted`,
        'InvalidConfig',
        undefined,
        { size: info.size, limit: this.#options.maxBytes },
      );
    }
  }

  checkLength(length: number): void {
    if (length > this.#options.maxBytes) {
      throw this.#fail(
        `${this.#named} is more than the ${this.#options.maxBytes} bytes accepted`,
        'InvalidConfig',
        undefined,
        { size: length, limit: this.#options.maxBytes },
      );
    }
  }

  readFailure(error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    const code = (error as NodeJS.ErrnoException).code;
    return this.#fail(`${this.#named} cannot be read (${code ?? 'unknown error'})`, 'InvalidConfig', error);
  }

  #fail(
    message: string,
    code: 'InvalidConfig' | 'Aborted' = 'InvalidConfig',
    cause?: unknown,
    sizes?: { size: number; limit: number },
  ): StorageError {
    const { option, provider, operation } = this.#options;
    return new StorageError({
      code,
      message,
      provider,
      operation: operation ?? 'configure',
      details: {
        ...(this.#path === undefined ? {} : { path: this.#path }),
        ...(option ? { option } : {}),
        ...sizes,
        ...(code === 'InvalidConfig' && option ? { issues: [{ path: option, message }] } : {}),
      },
      cause,
    });
  }
}

/**
 * {@link readBoundedFile} decoded as UTF-8 text.
 *
 * @example
 * ```ts
 * import { readBoundedTextFile } from 'nebula-credential';
 * const kubeconfig = await readBoundedTextFile(`${process.env.HOME}/.kube/config`, {
 *   maxBytes: 4 * 1024 * 1024, what: 'the kubeconfig', option: 'kubeconfigPath' });
 * ```
 */
export async function readBoundedTextFile(path: string, options: BoundedFileReadOptions): Promise<string> {
  return (await readBoundedFile(path, options)).toString('utf8');
}

/**
 * A signal for file reads that must not outlast a deadline (the connect deadline while opening): it aborts
 * with a `Timeout` after `ms`, or with `parent`'s reason when that fires first. Call `clear` when done. The
 * timer does not keep the process alive.
 * @internal
 */
export function readDeadline(
  ms: number,
  what: string,
  parent?: AbortSignal,
): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        new StorageError({
          code: 'Timeout',
          message: `${what} did not finish within ${ms} ms (the connect deadline)`,
          operation: 'configure',
          retryable: false,
          details: { durationMs: ms },
        }),
      ),
    ms,
  );
  timer.unref();
  const onAbort = () => controller.abort(parent!.reason);
  if (parent?.aborted) onAbort();
  else parent?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
    },
  };
}
