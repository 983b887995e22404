import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
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
  /** Aborts the read (pass the connect deadline's signal). */
  signal?: AbortSignal | undefined;
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
  const fail = (message: string, code: 'InvalidConfig' | 'Aborted' = 'InvalidConfig', cause?: unknown) =>
    new StorageError({
      code,
      message,
      provider: options.provider,
      operation: options.operation ?? 'configure',
      details: {
        path,
        ...(options.option ? { option: options.option } : {}),
        ...(code === 'InvalidConfig' && options.option
          ? { issues: [{ path: options.option, message }] }
          : {}),
      },
      cause,
    });
  const named = `${options.what} ${JSON.stringify(path)}${options.option ? ` (${options.option})` : ''}`;
  if (options.signal?.aborted) throw fail(`reading ${named} was aborted`, 'Aborted');
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES' || code === 'EPERM'
          ? 'is not readable by this process'
          : code === 'EISDIR'
            ? 'is a directory, not a file'
            : code === 'ELOOP'
              ? 'is a symbolic link loop'
              : `cannot be opened (${code ?? 'unknown error'})`;
    throw fail(`${named} ${why}`, 'InvalidConfig', error);
  }
  try {
    const info = await handle.stat();
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
      throw fail(`${named} is ${kind}; give the path of a regular file`);
    }
    if (info.size > options.maxBytes) {
      throw fail(`${named} is ${info.size} bytes, more than the ${options.maxBytes} bytes accepted`);
    }
    // Room for one byte past the bound: a file that grows after fstat is still refused.
    const buffer = Buffer.alloc(options.maxBytes + 1);
    let length = 0;
    for (;;) {
      if (options.signal?.aborted) throw fail(`reading ${named} was aborted`, 'Aborted');
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > options.maxBytes) {
        throw fail(`${named} is more than the ${options.maxBytes} bytes accepted`);
      }
    }
    return buffer.subarray(0, length);
  } catch (error) {
    if (error instanceof StorageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw fail(`${named} cannot be read (${code ?? 'unknown error'})`, 'InvalidConfig', error);
  } finally {
    await handle.close().catch(() => {});
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
