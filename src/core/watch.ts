import { createHash } from 'node:crypto';
import { mapWithConcurrency } from './bulk.js';
import type { Clock } from './clock.js';
import { isStorageError, StorageError, toStorageError } from './errors.js';
import { CredentialId, type CredentialIdLike } from './id.js';
import { type Logger, silentLogger } from './logger.js';
import { type CredentialContext, type CredentialFilter, metadataToJson } from './metadata.js';
import { OptionsSchema, option } from './options-schema.js';
import type {
  ChangeFeed,
  ChangeObservation,
  ChangeTarget,
  StorageProvider,
  StoredCredential,
  VersionProbe,
} from './provider.js';

/**
 * What a watch reports: the credential changed (a new value, or it appeared) or was deleted (or, for a
 * watch over a tag filter, no longer matches it). `version` is the backend's new version where it has one.
 *
 * @example
 * ```ts
 * const change: CredentialChange = { id: 'db_password', kind: 'changed', version: '7' };
 * ```
 */
export interface CredentialChange {
  id: string;
  kind: 'changed' | 'deleted';
  version?: string | undefined;
}

/** Called once per change, in order; a listener that throws or rejects is reported, not fatal. */
export type CredentialChangeListener = (change: CredentialChange) => void | Promise<void>;

/**
 * Options of `store.watch`.
 *
 * @example
 * ```ts
 * const watch = store.watch('db_password', onChange, { intervalMs: 15_000, onError: (e) => log.warn(e.code) });
 * ```
 */
export interface WatchOptions {
  /** Time between polls of the change signal. Default 30000; at least 10. */
  intervalMs?: number | undefined;
  /** Longest wait between polls while the backend keeps failing. Default 32 × intervalMs, at most 15 min. */
  maxBackoffMs?: number | undefined;
  /** Random spread of each wait, as a fraction of it (0 to 0.5), so many watchers do not poll in step. Default 0.1. */
  jitter?: number | undefined;
  /** Stops the watch when it aborts. */
  signal?: AbortSignal | undefined;
  /** Called with every failed poll (the watch backs off and keeps going). Default: a warning in the log. */
  onError?: ((error: StorageError) => void) | undefined;
  context?: CredentialContext | undefined;
}

/**
 * A running watch. Close it (or `await using` it) to stop polling and release the backend's change feed.
 *
 * @example
 * ```ts
 * await using watch = store.watch('db_password', ({ kind }) => console.log(kind));
 * await watch.ready;
 * ```
 */
export interface CredentialWatch {
  /** Resolves once the current state is known: changes after this are reported. */
  readonly ready: Promise<void>;
  /** True once {@link CredentialWatch.close} was called (or the signal aborted). */
  readonly closed: boolean;
  /** Stops polling and the native feed; resolves once the last listener call has finished. */
  close(): Promise<void>;
  /** The same as {@link CredentialWatch.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** What the store plugs into a watcher: the cache refresh and the circuit breaker. */
export interface WatchHooks {
  /** Runs before the listener, so a `get` from the listener already sees the new value. */
  beforeNotify?: (change: CredentialChange, probe: VersionProbe | undefined) => Promise<void>;
  guard?: <T>(call: () => Promise<T>, operation: string) => Promise<T>;
}

interface ResolvedWatchOptions {
  intervalMs: number;
  maxBackoffMs: number;
  jitter: number;
}

const MAX_INTERVAL_MS = 86_400_000;

const WATCH_OPTIONS = new OptionsSchema('watch', {
  intervalMs: option.number({
    doc: 'time between polls, in ms',
    min: 10,
    max: MAX_INTERVAL_MS,
    default: 30_000,
  }),
  maxBackoffMs: option.number({
    doc: 'longest wait between polls while the backend fails, in ms',
    min: 10,
    max: MAX_INTERVAL_MS,
    default: (s: Readonly<Record<string, unknown>>) => Math.min((s['intervalMs'] as number) * 32, 900_000),
    defaultDoc: '32 × intervalMs, at most 15 min',
  }),
  jitter: option.number({ doc: 'random spread of each wait (0 to 0.5)', min: 0, max: 0.5, default: 0.1 }),
  signal: option.instance(
    { is: (v): v is AbortSignal => v instanceof AbortSignal, rule: 'an AbortSignal' },
    { doc: 'stops the watch when it aborts' },
  ),
  onError: option.instance(
    { is: (v): v is (error: StorageError) => void => typeof v === 'function', rule: 'a function' },
    { doc: 'called with every failed poll' },
  ),
  context: option.instance(
    { is: (v): v is CredentialContext => typeof v === 'object' && v !== null, rule: 'a CredentialContext' },
    { doc: 'carried into logs' },
  ),
});

/**
 * Validates watch options (`InvalidConfig` listing every problem) and applies the defaults.
 *
 * @example
 * ```ts
 * import { resolveWatchOptions } from 'nebula-credential';
 * console.log(resolveWatchOptions({ intervalMs: 1000 }).maxBackoffMs); // 32000
 * ```
 */
export function resolveWatchOptions(options: WatchOptions): ResolvedWatchOptions {
  const { values } = WATCH_OPTIONS.resolve(options);
  return {
    intervalMs: values.intervalMs,
    maxBackoffMs: Math.max(values.maxBackoffMs, values.intervalMs),
    jitter: values.jitter,
  };
}

/**
 * A fingerprint of a stored credential, for backends without versions: it changes whenever the
 * ciphertext or the metadata does. Hashes ciphertext, never plaintext.
 *
 * @example
 * ```ts
 * import { storedFingerprint } from 'nebula-credential';
 * const version = storedFingerprint(await provider.retrieve('api_key'));
 * ```
 */
export function storedFingerprint(stored: StoredCredential): string {
  const hash = createHash('sha256');
  hash.update(stored.data.keyId).update(stored.data.nonce).update(stored.data.tag);
  hash.update(stored.data.ciphertext).update(JSON.stringify(metadataToJson(stored.metadata)));
  return hash.digest('hex').slice(0, 24);
}

/**
 * The change signal of one credential: the provider's `describeVersion`, or (for providers without one) a
 * `retrieve` whose version or fingerprint is the signal. `undefined` when the credential does not exist.
 *
 * @example
 * ```ts
 * import { probeVersion } from 'nebula-credential';
 * const probe = await probeVersion(provider, 'api_key');
 * console.log(probe?.version);
 * ```
 */
export async function probeVersion(
  provider: StorageProvider,
  id: CredentialIdLike,
  context?: CredentialContext,
): Promise<VersionProbe | undefined> {
  if (typeof provider.describeVersion === 'function') return provider.describeVersion(id, context);
  try {
    const stored = await provider.retrieve(id, context);
    return { version: stored.version ?? storedFingerprint(stored), stored };
  } catch (error) {
    if (isStorageError(error, 'NotFound')) return undefined;
    throw error;
  }
}

/**
 * The change signal of every credential matching `filter`: the provider's `listVersions`, or `list` plus one
 * probe per id.
 *
 * @example
 * ```ts
 * import { probeVersions } from 'nebula-credential';
 * const versions = await probeVersions(provider, { tags: { team: 'payments' } });
 * ```
 */
export async function probeVersions(
  provider: StorageProvider,
  filter: CredentialFilter | undefined,
  context?: CredentialContext,
): Promise<Map<string, VersionProbe>> {
  if (typeof provider.listVersions === 'function') return provider.listVersions(filter, context);
  const ids = await provider.list(filter, context);
  const probes = await mapWithConcurrency(ids, 8, (id) => probeVersion(provider, id, context));
  const out = new Map<string, VersionProbe>();
  ids.forEach((id, i) => {
    const probe = probes[i];
    if (probe) out.set(id, probe);
  });
  return out;
}

/**
 * Watches one credential or a filter: polls the backend's cheapest change signal (jittered, backing off
 * while the backend fails) and, where the provider has a native feed (the Kubernetes watch API, file-system
 * events), listens to it too. It reports a change only when the version differs from what it last saw, so
 * a feed and a poll reporting the same change produce one event.
 *
 * @example
 * ```ts
 * import { ChangeWatcher } from 'nebula-credential';
 * const watch = new ChangeWatcher(provider, { kind: 'id', id: CredentialId.parse('api_key') },
 *   (c) => console.log(c.kind), { intervalMs: 5000 }, { clock: systemClock });
 * await watch.ready;
 * await watch.close();
 * ```
 */
export class ChangeWatcher implements CredentialWatch {
  /** Resolves once the current state is known (the first successful poll). */
  readonly ready: Promise<void>;
  readonly #provider: StorageProvider;
  readonly #target: ChangeTarget;
  readonly #listener: CredentialChangeListener;
  readonly #options: ResolvedWatchOptions;
  readonly #context: CredentialContext | undefined;
  readonly #onError: ((error: StorageError) => void) | undefined;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #hooks: WatchHooks;
  readonly #random: () => number;
  readonly #stop = new AbortController();
  readonly #known = new Map<string, string>();
  readonly #done: Promise<void>;
  #resolveReady: () => void = () => {};
  #baselined = false;
  #failures = 0;
  #feed: ChangeFeed | undefined;
  #feedComplete = false;
  #wakeSleep: AbortController | undefined;
  /** A wake-up that came while a poll was running: the next sleep is skipped. */
  #wakePending = false;
  #resumePolling: () => void = () => {};
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  /** Starts watching at once; options are validated first (`InvalidConfig`). */
  constructor(
    provider: StorageProvider,
    target: ChangeTarget,
    listener: CredentialChangeListener,
    options: WatchOptions,
    runtime: { clock: Clock; logger?: Logger | undefined; hooks?: WatchHooks; random?: () => number },
  ) {
    if (typeof listener !== 'function') {
      throw new StorageError({
        code: 'InvalidConfig',
        message: 'watch needs a listener function: store.watch(id, (change) => { ... })',
        operation: 'watch',
      });
    }
    this.#provider = provider;
    this.#target = target;
    this.#listener = listener;
    this.#options = resolveWatchOptions(options);
    this.#context = options.context;
    this.#onError = options.onError;
    this.#clock = runtime.clock;
    this.#logger = runtime.logger ?? silentLogger;
    this.#hooks = runtime.hooks ?? {};
    this.#random = runtime.random ?? Math.random;
    this.ready = new Promise<void>((resolve) => {
      this.#resolveReady = resolve;
    });
    const signal = options.signal;
    if (signal?.aborted) this.#closed = true;
    signal?.addEventListener('abort', () => void this.close(), { once: true });
    this.#done = this.#closed ? Promise.resolve() : this.#run();
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Stops polling and the native feed; resolves once the last listener call has finished. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#stop.abort();
      this.#wakeSleep?.abort();
      this.#resumePolling();
      this.#feed?.close();
      this.#feed = undefined;
      this.#resolveReady();
    }
    await this.#done;
    await this.#queue;
  }

  /** The same as {@link ChangeWatcher.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** A log-safe description: what is watched, never a value. */
  toJSON(): Record<string, unknown> {
    return { target: this.#describeTarget(), closed: this.#closed, intervalMs: this.#options.intervalMs };
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      try {
        await this.#poll();
        this.#failures = 0;
        if (!this.#baselined) {
          this.#baselined = true;
          this.#resolveReady();
          this.#startFeed();
        }
      } catch (error) {
        if (this.#closed) break;
        this.#failures++;
        this.#report(error);
      }
      if (this.#closed) break;
      if (this.#feedComplete && this.#failures === 0) {
        // The feed reports every change: no polling until it gives up.
        await new Promise<void>((resolve) => {
          this.#resumePolling = resolve;
        });
        continue;
      }
      await this.#sleep(this.#nextDelay());
    }
  }

  #nextDelay(): number {
    const { intervalMs, maxBackoffMs, jitter } = this.#options;
    const base =
      this.#failures === 0
        ? intervalMs
        : Math.min(maxBackoffMs, intervalMs * 2 ** Math.min(this.#failures, 30));
    return Math.max(1, Math.round(base * (1 + jitter * (2 * this.#random() - 1))));
  }

  #wake(): void {
    if (this.#wakeSleep) this.#wakeSleep.abort();
    else this.#wakePending = true;
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#wakePending) {
      this.#wakePending = false;
      return;
    }
    const wake = new AbortController();
    this.#wakeSleep = wake;
    try {
      await this.#clock.sleep(ms, wake.signal);
    } catch {
      // Woken early (a feed hint, or close): poll now.
    } finally {
      if (this.#wakeSleep === wake) this.#wakeSleep = undefined;
    }
  }

  async #poll(): Promise<void> {
    const guard = this.#hooks.guard ?? (<T>(call: () => Promise<T>) => call());
    if (this.#target.kind === 'id') {
      const id = this.#target.id;
      const probe = await guard(() => probeVersion(this.#provider, id, this.#context), 'describeVersion');
      await this.#enqueue(() => this.#apply(id.value, probe));
      return;
    }
    const filter = this.#target.filter;
    const probes = await guard(() => probeVersions(this.#provider, filter, this.#context), 'listVersions');
    await this.#enqueue(async () => {
      for (const [id, probe] of probes) await this.#apply(id, probe);
      for (const id of [...this.#known.keys()]) if (!probes.has(id)) await this.#apply(id, undefined);
    });
  }

  #startFeed(): void {
    if (typeof this.#provider.subscribeChanges !== 'function' || this.#closed) return;
    let feed: ChangeFeed | undefined;
    try {
      feed = this.#provider.subscribeChanges(this.#target, {
        observe: (observation) => {
          if (!this.#closed) void this.#enqueue(() => this.#observe(observation));
        },
        wake: () => this.#wake(),
        error: (error, fatal) => {
          if (this.#closed) return;
          this.#report(error);
          if (fatal) {
            this.#feed?.close();
            this.#feed = undefined;
            this.#feedComplete = false;
            this.#resumePolling();
          }
        },
      });
    } catch (error) {
      this.#report(error);
      return;
    }
    this.#feed = feed;
    this.#feedComplete = feed?.complete === true;
  }

  #observe(observation: ChangeObservation): Promise<void> {
    const probe =
      observation.state === 'present' && observation.version !== undefined
        ? { version: observation.version, stored: observation.stored }
        : undefined;
    if (observation.state === 'present' && probe === undefined) {
      // A hint without a version: look it up.
      this.#wake();
      return Promise.resolve();
    }
    return this.#apply(observation.id, probe);
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => {});
    return next;
  }

  async #apply(id: string, probe: VersionProbe | undefined): Promise<void> {
    if (this.#target.kind === 'id' && id !== this.#target.id.value) return;
    const had = this.#known.has(id);
    let change: CredentialChange | undefined;
    if (probe === undefined) {
      if (!had) return;
      this.#known.delete(id);
      change = { id, kind: 'deleted' };
    } else {
      if (had && this.#known.get(id) === probe.version) return;
      this.#known.set(id, probe.version);
      change = { id, kind: 'changed', version: probe.version };
    }
    // The first poll only learns the current state.
    if (!this.#baselined || this.#closed) return;
    try {
      await this.#hooks.beforeNotify?.(change, probe);
    } catch (error) {
      this.#report(error);
    }
    try {
      await this.#listener(change);
    } catch (error) {
      this.#report(toStorageError(error, { operation: 'watch', credentialId: id }));
    }
  }

  #report(raw: unknown): void {
    const error = isStorageError(raw)
      ? raw
      : toStorageError(raw, { provider: this.#provider.name, operation: 'watch' });
    if (this.#onError) {
      try {
        this.#onError(error);
      } catch {
        // An error handler that throws must not stop the watch.
      }
      return;
    }
    this.#logger.warn(
      {
        provider: this.#provider.name,
        operation: 'watch',
        target: this.#describeTarget(),
        code: error.code,
        failures: this.#failures,
      },
      'watch poll failed; backing off',
    );
  }

  #describeTarget(): string {
    return this.#target.kind === 'id' ? this.#target.id.value : 'filter';
  }
}

/**
 * Builds the target of a watch: an id, or `{ tags }` (a filter).
 *
 * @example
 * ```ts
 * import { watchTarget } from 'nebula-credential';
 * watchTarget('api_key'); // { kind: 'id', id: CredentialId('api_key') }
 * watchTarget({ tags: { team: 'payments' } }); // { kind: 'filter', filter: { tags: ... } }
 * ```
 */
export function watchTarget(target: CredentialIdLike | CredentialFilter): ChangeTarget {
  if (typeof target === 'string' || target instanceof CredentialId) {
    return { kind: 'id', id: CredentialId.from(target) };
  }
  return { kind: 'filter', filter: target };
}
