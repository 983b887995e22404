import type { OptionsValidator } from './options.js';

/**
 * The name of the connection pool option, the same on every network provider: the most sockets its HTTP
 * agent keeps open to the backend at once. Concurrent calls beyond it queue for a free socket.
 *
 * @example
 * ```ts
 * import { MAX_SOCKETS_OPTION } from 'nebula-credential';
 * console.log(MAX_SOCKETS_OPTION); // maxSockets
 * ```
 */
export const MAX_SOCKETS_OPTION = 'maxSockets';

/**
 * The pool size when `maxSockets` is not given: room for the 32 concurrent calls a busy service makes
 * (FC-001) with headroom, and well under a backend's per-client connection limits.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_SOCKETS } from 'nebula-credential';
 * console.log(DEFAULT_MAX_SOCKETS); // 50
 * ```
 */
export const DEFAULT_MAX_SOCKETS = 50;

/**
 * Reads and checks `maxSockets` (a whole number from 1 to 1024) from a provider's options.
 *
 * @example
 * ```ts
 * import { OptionsValidator, readMaxSockets } from 'nebula-credential';
 * console.log(readMaxSockets(new OptionsValidator('example', { maxSockets: 8 }))); // 8
 * ```
 */
export function readMaxSockets(v: OptionsValidator): number {
  return v.number(MAX_SOCKETS_OPTION, { min: 1, max: 1024, integer: true }) ?? DEFAULT_MAX_SOCKETS;
}
