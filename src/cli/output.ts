import { monotonicMs } from '../core/clock.js';
import { isStorageError } from '../core/errors.js';
import { type Logger, redact } from '../core/logger.js';
import { type CredentialMetadata, metadataToJson } from '../core/metadata.js';
import { InterruptedError, UsageError } from './exit-codes.js';
import type { CliOutput } from './io.js';

/** The program name in messages. */
export const PROGRAM = 'nebula-credential';

/**
 * Renders an error for standard error: one line with the code and message, the command's help hint for
 * usage errors, and with `debug` the structured details and the stack. Never the raw cause, whose
 * request objects may carry tokens (StorageError.toJSON already reduces it).
 */
export function formatError(error: unknown, debug: boolean): string {
  if (error instanceof UsageError) {
    const help = error.command ? `${PROGRAM} ${error.command} --help` : `${PROGRAM} --help`;
    return `${PROGRAM}: ${error.message}\nRun "${help}" for usage.\n`;
  }
  if (error instanceof InterruptedError) return `${PROGRAM}: interrupted\n`;
  if (isStorageError(error)) {
    let text = `${PROGRAM}: error [${error.code}]: ${error.message}\n`;
    if (debug) {
      const { message: _m, name: _n, ...fields } = error.toJSON();
      text += `${JSON.stringify(redact(fields), null, 2)}\n${stackFrames(error)}\n`;
    } else if (error.code === 'Internal') {
      text += 'Run again with --debug for details.\n';
    }
    return text;
  }
  const kind = error instanceof Error ? error.name : typeof error;
  let text = `${PROGRAM}: error [Internal]: unexpected ${kind}\n`;
  // Another library's message can quote its input; only --debug shows it.
  text +=
    debug && error instanceof Error
      ? `${error.stack ?? error.message}\n`
      : 'Run again with --debug for details.\n';
  return text;
}

function stackFrames(error: Error): string {
  return (error.stack ?? '').split('\n').slice(1).join('\n');
}

/** With `--debug`: the provider's structured log as JSON lines on standard error, redacted. */
export function debugLogger(stderr: CliOutput): Logger {
  const write = (level: string) => (fields: Record<string, unknown>, message?: string) => {
    stderr.write(`${JSON.stringify({ level, message, ...(redact(fields) as Record<string, unknown>) })}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/**
 * Without `--debug`: the provider's warnings and errors (a file's permissions tightened, a stale lock broken,
 * an unreadable credential replaced) as one line each on standard error, with their redacted fields;
 * everything below warning level is dropped.
 */
export function warningLogger(stderr: CliOutput): Logger {
  const write = (fields: Record<string, unknown>, message?: string) => {
    const { provider: _provider, ...rest } = redact(fields) as Record<string, unknown>;
    const shown = Object.entries(rest)
      .filter(([, v]) => v !== undefined && (typeof v !== 'object' || v === null))
      .map(([k, v]) => `${k}=${String(v)}`);
    // On a terminal an activity line or progress bar may be showing: erase it first (it is redrawn below).
    const erase = stderr.isTTY ? '\r\u001b[2K' : '';
    stderr.write(
      `${erase}${PROGRAM}: warning: ${message ?? ''}${shown.length > 0 ? ` (${shown.join(', ')})` : ''}\n`,
    );
  };
  return { debug() {}, info() {}, warn: write, error: write };
}

/** Human-readable metadata for `describe`. */
export function formatMetadata(
  id: string,
  provider: string,
  metadata: CredentialMetadata,
  version: string | undefined,
): string {
  const rows: [string, string][] = [
    ['id', id],
    ['provider', provider],
    ['created', metadata.createdAt.toISOString()],
    ['last modified', metadata.lastModified.toISOString()],
  ];
  if (metadata.lastAccessed) rows.push(['last accessed', metadata.lastAccessed.toISOString()]);
  if (metadata.rotationPolicy) {
    const days = metadata.rotationPolicy.intervalDays;
    const due = new Date(metadata.lastModified.getTime() + days * 86_400_000);
    rows.push(['rotation', `every ${days} day${days === 1 ? '' : 's'} (next due ${due.toISOString()})`]);
  }
  if (version !== undefined) rows.push(['version', version]);
  const tags = Object.entries(metadata.tags);
  rows.push(['tags', tags.length === 0 ? '(none)' : tags.map(([k, v]) => `${k}=${v}`).join(', ')]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`).join('\n') + '\n';
}

/** The JSON shape of one credential's metadata in `get --json` and `describe --json`. */
export function metadataJson(id: string, provider: string, metadata: CredentialMetadata, version?: string) {
  return { id, provider, ...(version === undefined ? {} : { version }), metadata: metadataToJson(metadata) };
}

const SPINNER = ['|', '/', '-', '\\'];

/**
 * Runs `work` with a one-line activity indicator on standard error (what is being done, a spinner and the
 * seconds spent), redrawn in place and erased at the end, for work of unknown length such as a listing that
 * takes many pages from a backend. Only when standard error is a terminal: a pipe or a log file gets
 * nothing.
 */
export async function withActivity<T>(stderr: CliOutput, label: string, work: () => Promise<T>): Promise<T> {
  if (!stderr.isTTY) return work();
  const started = monotonicMs();
  let frame = 0;
  const draw = () => {
    const seconds = Math.floor((monotonicMs() - started) / 1000);
    const line = `${SPINNER[frame++ % SPINNER.length]} ${label}${seconds > 0 ? ` (${seconds} s)` : ''}`;
    stderr.write(`\r\u001b[2K${line.slice(0, Math.max(10, (stderr.columns || 80) - 1))}`);
  };
  draw();
  const timer = setInterval(draw, 125);
  timer.unref?.();
  try {
    return await work();
  } finally {
    clearInterval(timer);
    stderr.write('\r\u001b[2K');
  }
}

/** A one-line progress bar redrawn in place; only used when standard error is a terminal. */
export class ProgressBar {
  readonly #out: CliOutput;
  readonly #total: number;
  #shown = false;

  /** A bar for `total` steps, drawn on `out`. */
  constructor(out: CliOutput, total: number) {
    this.#out = out;
    this.#total = total;
  }

  /** Redraws the bar: `done` of the total, then `label` (the item being worked on). */
  update(done: number, label: string): void {
    const width = 24;
    const filled = this.#total === 0 ? width : Math.round((done / this.#total) * width);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    const columns = this.#out.columns || 80;
    const line = `[${bar}] ${done}/${this.#total} ${label}`.slice(0, Math.max(10, columns - 1));
    this.#out.write(`\r\u001b[2K${line}`);
    this.#shown = true;
  }

  /** Erases the bar, leaving the line empty for what follows. */
  clear(): void {
    if (this.#shown) this.#out.write('\r\u001b[2K');
    this.#shown = false;
  }
}
