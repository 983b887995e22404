import { fstatSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import type { Clock } from '../core/clock.js';
import type { StorageProvider } from '../core/provider.js';
import type { StorageConfig } from '../providers/registry.js';

/** A writable stream as the command sees it. */
export interface CliOutput {
  write(chunk: string | Uint8Array): unknown;
  isTTY?: boolean | undefined;
  columns?: number | undefined;
}

/** A readable stream as the command sees it. */
export interface CliInput extends AsyncIterable<string | Uint8Array> {
  isTTY?: boolean | undefined;
  setRawMode?: ((mode: boolean) => unknown) | undefined;
  on?: ((event: 'data', listener: (chunk: Buffer) => void) => unknown) | undefined;
  removeListener?: ((event: 'data', listener: (chunk: Buffer) => void) => unknown) | undefined;
  pause?: (() => unknown) | undefined;
  resume?: (() => unknown) | undefined;
}

/**
 * Everything the command touches outside its arguments: streams, environment, working directory, home.
 * The binary passes the real process; tests pass their own.
 */
export interface CliIo {
  stdin: CliInput;
  stdout: CliOutput;
  stderr: CliOutput;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** The user's home directory (`$HOME` on POSIX). */
  home: string;
  /**
   * Opens a backend. Tests replace it to share one in-memory provider between command runs; the binary
   * uses `createStorageProvider`.
   */
  openStorage?: ((config: StorageConfig) => Promise<StorageProvider>) | undefined;
  /** Resolves when a long-running command (emulator, watch) should stop (SIGINT/SIGTERM in the binary). */
  waitForStop?: (() => Promise<string>) | undefined;
  /** Time for `watch`'s polling. The binary uses the system clock; tests pass a ManualClock. */
  clock?: Clock | undefined;
}

/** The real process's streams and environment. */
export function processIo(): CliIo {
  let stdout: CliOutput | undefined;
  // Getters: touching process.stdin builds a stream (and loads tty/net) that `get` never needs.
  return {
    get stdin() {
      return process.stdin as unknown as CliInput;
    },
    get stdout() {
      stdout ??= directOutput(1, processStdout) ?? processStdout();
      return stdout;
    },
    get stderr() {
      return process.stderr;
    },
    env: process.env,
    cwd: process.cwd(),
    home: homedir(),
    waitForStop: () =>
      new Promise<string>((resolve) => {
        const stop = (signal: string) => () => resolve(signal);
        process.once('SIGINT', stop('SIGINT'));
        process.once('SIGTERM', stop('SIGTERM'));
      }),
  };
}

/** process.stdout, with a closed pipe made a quiet exit the first time it is touched. */
function processStdout(): NodeJS.WriteStream {
  if (!stdoutGuarded) {
    stdoutGuarded = true;
    // `nebula-credential get x | head -c 4` closes the pipe early: that is the reader's choice, not an error.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  return process.stdout;
}
let stdoutGuarded = false;

/**
 * Standard output written with write(2) when it is a pipe, a socket (what Node's `spawn` gives a child)
 * or a regular file, else `undefined` (a terminal gets process.stdout). For a file process.stdout does
 * the same (fs.writeSync), and a pipe's or socket's stream writes synchronously on Linux too; but
 * building that stream loads node:net and the stream machinery, a few ms of every `get`. A descriptor
 * someone made non-blocking (EAGAIN) hands the rest to process.stdout, which waits for room; a closed
 * reader (EPIPE) ends the process quietly, as the stream's handler does.
 */
function directOutput(fd: number, fallback: () => NodeJS.WriteStream): CliOutput | undefined {
  try {
    const info = fstatSync(fd);
    if (!info.isFIFO() && !info.isFile() && !info.isSocket()) return undefined;
  } catch {
    return undefined;
  }
  let stream: NodeJS.WriteStream | undefined;
  let closed = false;
  return {
    isTTY: false,
    write(chunk: string | Uint8Array) {
      if (closed) return false;
      if (stream) return stream.write(chunk);
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      let offset = 0;
      try {
        while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
        return true;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          stream = fallback();
          return stream.write(bytes.subarray(offset));
        }
        if (code !== 'EPIPE') throw error;
        closed = true;
        process.nextTick(() => process.exit(process.exitCode ?? 0));
        return false;
      }
    },
  };
}
