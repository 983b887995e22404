/**
 * `promise`'s outcome, or a rejection with `reasonOf(signal)` as soon as `signal` aborts, whichever comes
 * first. `promise` goes on (its outcome is then ignored): for work shared with other waiters, or a read that
 * cannot be cancelled, which must not hold a caller who gave up.
 *
 * @example
 * ```ts
 * const value = await untilAborted(sharedRun, AbortSignal.timeout(2000));
 * ```
 *
 * @internal
 */
export function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  reasonOf: (signal: AbortSignal) => unknown = (s) => s.reason,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reasonOf(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
