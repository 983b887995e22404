// The Kubernetes provider's native change feed: the watch API, used the way client-go's reflector uses it.
// List once (the current state and its resourceVersion), then watch from that version; when the stream
// ends (the server's timeout, a dropped connection) watch again from the last version seen (events and
// bookmarks move it on); when the server answers 410 Expired (that version was compacted away), list again
// and report what changed in between.

import type { IncomingMessage } from 'node:http';
import type { Clock } from '../core/clock.js';
import { StorageError } from '../core/errors.js';
import type { ChangeFeed, ChangeObservation, ChangeSink } from '../core/provider.js';

/** A Secret as the watch stream and the list carry it (only the fields the feed reads). */
export interface WatchedSecret {
  metadata?: { name?: string; resourceVersion?: string } | undefined;
  [key: string]: unknown;
}

/** What the feed needs from the provider: list, open a stream, and turn a Secret into an observation. */
export interface KubeFeedSource {
  /** Every matching Secret (all pages) and the list's resourceVersion. */
  list(signal: AbortSignal): Promise<{ items: WatchedSecret[]; resourceVersion: string }>;
  /** Opens `?watch=true` from `resourceVersion`; resolves with the 200 response, or throws a StorageError. */
  open(resourceVersion: string, signal: AbortSignal): Promise<IncomingMessage>;
  /** The observation for a Secret that is present, or undefined when it is not one of ours or no longer matches. */
  observe(secret: WatchedSecret): ChangeObservation | undefined;
  /** The credential id of a Secret name (for DELETED events, whose object may no longer decode). */
  idOf(name: string): string | undefined;
  /** Largest watch event line accepted, in bytes (an event carries one Secret). */
  maxEventBytes: number;
}

/** Longest wait between reconnections while the API server keeps failing. */
const MAX_BACKOFF_MS = 30_000;

/** Raised inside the stream reader when the server says the resourceVersion is too old. */
class ExpiredVersion extends Error {}

class EventTooLarge extends Error {}

/**
 * The lines of `input`, refusing one longer than `maxBytes` before buffering it whole (readline would
 * buffer a line of any length: a broken or hostile server could exhaust memory with one endless event).
 */
async function* boundedLines(
  input: AsyncIterable<Buffer | string>,
  maxBytes: number,
): AsyncGenerator<string> {
  let pending: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (let end = buffer.indexOf(10, start); end !== -1; end = buffer.indexOf(10, start)) {
      const piece = buffer.subarray(start, end);
      if (size + piece.length > maxBytes) throw new EventTooLarge();
      pending.push(piece);
      yield Buffer.concat(pending).toString('utf8');
      pending = [];
      size = 0;
      start = end + 1;
    }
    const rest = buffer.subarray(start);
    size += rest.length;
    if (size > maxBytes) throw new EventTooLarge();
    if (rest.length > 0) pending.push(rest);
  }
  if (size > 0) yield Buffer.concat(pending).toString('utf8');
}

/**
 * The running feed. It reports every change itself (`complete`), so the watcher stops polling; a
 * `PermissionDenied` (no `watch` verb) is fatal and the watcher falls back to polling.
 *
 * @example
 * ```ts
 * const feed = new KubernetesChangeFeed(source, sink, systemClock);
 * // ... feed.close();
 * ```
 */
export class KubernetesChangeFeed implements ChangeFeed {
  readonly complete = true;
  readonly #source: KubeFeedSource;
  readonly #sink: ChangeSink;
  readonly #clock: Clock;
  readonly #stop = new AbortController();
  /** Ids present at the last list or event, so a relist can report what vanished meanwhile. */
  readonly #present = new Set<string>();

  constructor(source: KubeFeedSource, sink: ChangeSink, clock: Clock) {
    this.#source = source;
    this.#sink = sink;
    this.#clock = clock;
    void this.#run();
  }

  close(): void {
    this.#stop.abort();
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    let resourceVersion: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (resourceVersion === undefined) resourceVersion = await this.#relist(signal);
        resourceVersion = await this.#stream(resourceVersion, signal);
        failures = 0;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ExpiredVersion) {
          resourceVersion = undefined;
          continue;
        }
        const fatal = error instanceof StorageError && error.code === 'PermissionDenied';
        this.#sink.error(error, fatal);
        if (fatal) return;
        failures++;
        const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(failures, 10));
        await this.#clock.sleep(delay, signal).catch(() => {});
      }
    }
  }

  async #relist(signal: AbortSignal): Promise<string> {
    const { items, resourceVersion } = await this.#source.list(signal);
    const seen = new Set<string>();
    for (const item of items) {
      const observation = this.#source.observe(item);
      if (!observation) continue;
      seen.add(observation.id);
      this.#sink.observe(observation);
    }
    for (const id of this.#present) if (!seen.has(id)) this.#sink.observe({ id, state: 'absent' });
    this.#present.clear();
    for (const id of seen) this.#present.add(id);
    return resourceVersion;
  }

  /** Reads one watch stream to its end; returns the last resourceVersion seen. */
  async #stream(from: string, signal: AbortSignal): Promise<string> {
    const response = await this.#source.open(from, signal);
    let resourceVersion = from;
    const lines = boundedLines(response, this.#source.maxEventBytes);
    const onAbort = () => response.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const line of lines) {
        if (line.trim() === '') continue;
        let event: { type?: string; object?: WatchedSecret & { code?: number; reason?: string } };
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        const object = event.object ?? {};
        if (event.type === 'ERROR') {
          if (object.code === 410 || object.reason === 'Expired' || object.reason === 'Gone') {
            throw new ExpiredVersion();
          }
          throw new StorageError({
            code: 'Unavailable',
            message: `the Kubernetes watch stream reported an error (${object.reason ?? object.code ?? 'unknown'}); reconnecting`,
            provider: 'kubernetes',
            operation: 'watch',
            details: {
              ...(object.code === undefined ? {} : { status: object.code }),
              ...(object.reason === undefined ? {} : { backendCode: object.reason }),
            },
          });
        }
        resourceVersion = object.metadata?.resourceVersion ?? resourceVersion;
        if (event.type === 'BOOKMARK') continue;
        this.#apply(event.type, object);
      }
    } catch (error) {
      if (signal.aborted) return resourceVersion;
      if (error instanceof ExpiredVersion || error instanceof StorageError) throw error;
      if (error instanceof EventTooLarge) {
        throw new StorageError({
          code: 'Unavailable',
          message: `the Kubernetes watch stream sent an event over ${this.#source.maxEventBytes} bytes (the bound for one Secret); reconnecting`,
          provider: 'kubernetes',
          operation: 'watch',
          details: { limitBytes: this.#source.maxEventBytes },
        });
      }
      throw new StorageError({
        code: 'Unavailable',
        message: 'the Kubernetes watch stream broke; reconnecting from the last resourceVersion',
        provider: 'kubernetes',
        operation: 'watch',
        cause: error,
      });
    } finally {
      signal.removeEventListener('abort', onAbort);
      response.destroy();
    }
    return resourceVersion;
  }

  #apply(type: string | undefined, object: WatchedSecret): void {
    const name = object.metadata?.name;
    if (name === undefined) return;
    if (type === 'DELETED') {
      const id = this.#source.idOf(name);
      if (id === undefined) return;
      this.#present.delete(id);
      this.#sink.observe({ id, state: 'absent' });
      return;
    }
    const observation = this.#source.observe(object);
    if (observation) {
      this.#present.add(observation.id);
      this.#sink.observe(observation);
      return;
    }
    // Modified so that it is no longer one of ours (label removed, tags changed): gone for this watch.
    const id = this.#source.idOf(name);
    if (id !== undefined && this.#present.delete(id)) this.#sink.observe({ id, state: 'absent' });
  }
}
