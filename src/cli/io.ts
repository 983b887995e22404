import { homedir } from 'node:os';
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
  /** Resolves when the emulator command should stop (SIGINT/SIGTERM in the binary). */
  waitForStop?: (() => Promise<string>) | undefined;
}

/** The real process's streams and environment. */
export function processIo(): CliIo {
  // Getters: touching process.stdin builds a stream (and loads tty/net) that `get` never needs.
  return {
    get stdin() {
      return process.stdin as unknown as CliInput;
    },
    get stdout() {
      return process.stdout;
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
