import { createRequire } from 'node:module';
import { StorageError } from './errors.js';

/**
 * An optional peer dependency (a cloud SDK) of a provider: its npm name, the version range the provider
 * supports (the one in package.json's `peerDependencies`), and a loader. `load` must be a literal
 * `() => import('pkg')` so bundlers see it; it is typed `unknown` so no public declaration names the SDK.
 *
 * @example
 * ```ts
 * import type { PeerPackage } from 'nebula-credential';
 * const peer: PeerPackage = {
 *   name: '@aws-sdk/client-secrets-manager',
 *   range: '^3.700.0',
 *   load: () => import('@aws-sdk/client-secrets-manager'),
 * };
 * ```
 */
export interface PeerPackage {
  readonly name: string;
  readonly range: string;
  readonly load: () => Promise<unknown>;
}

/** `name@range` as a shell argument: a range such as `^1.4.0 || ^2.0.0` is quoted, or the shell would split it. */
function installSpec(peer: PeerPackage): string {
  const spec = `${peer.name}@${peer.range}`;
  return /[\s|<>]/.test(spec) ? `"${spec}"` : spec;
}

function isMissingModule(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/**
 * Loads a provider's optional peers, all at once. Every missing one is named in a single
 * `MissingDependency` error with the one `npm install` command that adds them all; any other failure
 * (a broken install) is rethrown as it is.
 *
 * @example
 * ```ts
 * import { loadPeerPackages } from 'nebula-credential';
 * const modules = await loadPeerPackages('kv', [
 *   { name: 'undici', range: '^6', load: () => import('undici') },
 * ]);
 * console.log(modules.has('undici'));
 * ```
 */
export async function loadPeerPackages(
  provider: string,
  peers: readonly PeerPackage[],
): Promise<Map<string, unknown>> {
  const settled = await Promise.allSettled(peers.map((peer) => peer.load()));
  const missing = peers.filter((_, i) => {
    const result = settled[i]!;
    return result.status === 'rejected' && isMissingModule(result.reason);
  });
  if (missing.length > 0) {
    const names = missing.map((p) => p.name);
    const list = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
    throw new StorageError({
      code: 'MissingDependency',
      message: `the ${provider} provider needs the optional package${names.length > 1 ? 's' : ''} ${list}: run npm install ${missing.map(installSpec).join(' ')}`,
      provider,
      operation: 'connect',
      details: { package: names[0], packages: names },
      cause: (settled[peers.indexOf(missing[0]!)] as PromiseRejectedResult).reason,
    });
  }
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return new Map(peers.map((peer, i) => [peer.name, (settled[i] as PromiseFulfilledResult<unknown>).value]));
}

/**
 * Loads `dependency` the way the installed `peer` SDK loads it, from where that SDK is installed: for a
 * package the SDK depends on but this library does not (its HTTP handler, its YAML parser, its gRPC), so
 * objects handed back to the SDK are of the very copy it uses. `via` names packages in between, each
 * resolved from the one before: a dependency of the SDK's dependency (npm may nest either).
 *
 * @example
 * ```ts
 * const { NodeHttpHandler } = requireBesidePeer<{ NodeHttpHandler: new () => unknown }>(
 *   '@aws-sdk/client-secrets-manager',
 *   '@smithy/node-http-handler',
 * );
 * const { fromIni } = requireBesidePeer<{ fromIni: unknown }>(
 *   '@aws-sdk/client-secrets-manager',
 *   '@aws-sdk/credential-provider-ini',
 *   ['@aws-sdk/credential-provider-node'],
 * );
 * ```
 */
export function requireBesidePeer<T>(peer: string, dependency: string, via: readonly string[] = []): T {
  let from = import.meta.resolve(peer);
  for (const step of via) from = createRequire(from).resolve(step);
  return createRequire(from)(dependency) as T;
}
