/**
 * Collapses concurrent calls for one key into one: the first caller runs the work, everyone who asks for
 * the same key while it runs gets the same promise. The entry is gone as soon as the work settles, so a
 * caller that arrives afterwards starts a new one (this is not a cache). `forget(key)` detaches the
 * running work from the key: a write that happened meanwhile must not be answered by a read that started
 * before it.
 *
 * @example
 * ```ts
 * import { SingleFlight } from 'nebula-credential';
 * const flights = new SingleFlight<string, number>();
 * let calls = 0;
 * const work = async () => { calls++; return 42; };
 * const [a, b] = await Promise.all([flights.run('k', work).promise, flights.run('k', work).promise]);
 * console.log(a, b, calls); // 42 42 1
 * ```
 */
export class SingleFlight<K, V> {
  readonly #running = new Map<K, Promise<V>>();

  /** Runs `work` for `key`, or joins the run already in flight (`joined` tells which). */
  run(key: K, work: () => Promise<V>): { promise: Promise<V>; joined: boolean } {
    const running = this.#running.get(key);
    if (running) return { promise: running, joined: true };
    const promise = work().finally(() => {
      if (this.#running.get(key) === promise) this.#running.delete(key);
    });
    this.#running.set(key, promise);
    return { promise, joined: false };
  }

  /** The run in flight for `key`, if any. */
  get(key: K): Promise<V> | undefined {
    return this.#running.get(key);
  }

  /** Registers a run that someone else settles (a batch carrying many keys). */
  adopt(key: K, promise: Promise<V>): void {
    const tracked = promise.finally(() => {
      if (this.#running.get(key) === tracked) this.#running.delete(key);
    });
    tracked.catch(() => {});
    this.#running.set(key, tracked);
  }

  /** Detaches the run of `key`: later callers start a new one; current waiters still get its result. */
  forget(key: K): void {
    this.#running.delete(key);
  }

  /** Detaches every run. */
  forgetAll(): void {
    this.#running.clear();
  }

  /** Number of runs in flight. */
  get size(): number {
    return this.#running.size;
  }
}
