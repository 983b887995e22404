import { option } from './options-schema.js';

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
 * The `maxSockets` declaration every network provider's options schema uses: a whole number from 1 to
 * 1024, default {@link DEFAULT_MAX_SOCKETS}.
 *
 * @example
 * ```ts
 * const KV_OPTIONS = defineProviderOptions('kv', { maxSockets: maxSocketsOption() });
 * console.log(KV_OPTIONS.resolve({ maxSockets: 8 }).values.maxSockets); // 8
 * ```
 */
export function maxSocketsOption() {
  return option.number({
    doc: 'most connections (1-1024) the provider keeps open to the backend at once; calls beyond it queue',
    integer: true,
    min: 1,
    max: 1024,
    default: DEFAULT_MAX_SOCKETS,
  });
}
