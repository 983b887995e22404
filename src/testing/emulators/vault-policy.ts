/**
 * A Vault capability, as written in policies.
 *
 * @example
 * ```ts
 * const caps: VaultCapability[] = ['create', 'read', 'update'];
 * ```
 */
export type VaultCapability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny';

/**
 * One `path "..." { capabilities = [...] }` rule.
 *
 * @example
 * ```ts
 * vault.writePolicy('reader', [{ path: 'secret/data/*', capabilities: ['read'] }]);
 * ```
 */
export interface VaultPolicyRule {
  path: string;
  capabilities: VaultCapability[];
}

const CAPABILITIES = new Set<VaultCapability>([
  'create',
  'read',
  'update',
  'patch',
  'delete',
  'list',
  'sudo',
  'deny',
]);

/**
 * Parses the subset of Vault's policy HCL that ACL policies use: `path "glob" { capabilities = [..] }`
 * blocks, with `#` and `//` comments. Unknown keys inside a block are ignored, as Vault does for the
 * deprecated `policy = "write"` form only when capabilities are also given.
 *
 * @example
 * ```ts
 * import { parsePolicyHcl } from 'nebula-credential/testing';
 * parsePolicyHcl('path "secret/data/*" { capabilities = ["read"] }'); // [{ path: 'secret/data/*', capabilities: ['read'] }]
 * ```
 */
export function parsePolicyHcl(hcl: string): VaultPolicyRule[] {
  const text = hcl.replace(/(^|\s)(#|\/\/)[^\n]*/g, '$1');
  const rules: VaultPolicyRule[] = [];
  const block = /path\s+"([^"]*)"\s*\{([^}]*)\}/g;
  for (let m = block.exec(text); m; m = block.exec(text)) {
    const caps = /capabilities\s*=\s*\[([^\]]*)\]/.exec(m[2]!);
    const list = caps ? [...caps[1]!.matchAll(/"([^"]*)"/g)].map((c) => c[1]!) : [];
    for (const c of list)
      if (!CAPABILITIES.has(c as VaultCapability)) throw new Error(`invalid capability "${c}"`);
    rules.push({ path: m[1]!, capabilities: list as VaultCapability[] });
  }
  if (rules.length === 0 && text.trim().length > 0) throw new Error('failed to parse policy: no path blocks');
  return rules;
}

function matches(pattern: string, path: string): boolean {
  const prefix = pattern.endsWith('*');
  const body = prefix ? pattern.slice(0, -1) : pattern;
  if (!body.includes('+')) return prefix ? path.startsWith(body) : path === body;
  const pat = body.split('/');
  const segs = path.split('/');
  if (prefix ? segs.length < pat.length : segs.length !== pat.length) return false;
  for (let i = 0; i < pat.length; i++) {
    const p = pat[i]!;
    const s = segs[i]!;
    if (p === '+') {
      if (s.length === 0 && i < pat.length - 1) return false;
      continue;
    }
    if (i === pat.length - 1 && prefix) {
      if (!s.startsWith(p)) return false;
    } else if (p !== s) return false;
  }
  if (prefix && segs.length > pat.length) return true;
  return true;
}

/** Vault's priority order for matching globs (docs: "Priority matching"); positive when `a` wins. */
function compare(a: string, b: string): number {
  const firstWild = (s: string) => {
    const i = s.search(/[+*]/);
    return i < 0 ? Number.POSITIVE_INFINITY : i;
  };
  if (firstWild(a) !== firstWild(b)) return firstWild(a) - firstWild(b);
  const aStar = a.endsWith('*');
  const bStar = b.endsWith('*');
  if (aStar !== bStar) return aStar ? -1 : 1;
  const plus = (s: string) => s.split('+').length - 1;
  if (plus(a) !== plus(b)) return plus(b) - plus(a);
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The capabilities the given rules grant on `path`, the way Vault's ACL does: rules with the same pattern
 * (from several policies) merge, the highest-priority matching pattern decides, and `deny` wins within it.
 */
export function capabilitiesFor(rules: readonly VaultPolicyRule[], path: string): Set<VaultCapability> {
  const merged = new Map<string, Set<VaultCapability>>();
  for (const rule of rules) {
    if (!matches(rule.path, path)) continue;
    const set = merged.get(rule.path) ?? new Set<VaultCapability>();
    for (const c of rule.capabilities) set.add(c);
    merged.set(rule.path, set);
  }
  let best: string | undefined;
  for (const pattern of merged.keys()) if (best === undefined || compare(pattern, best) > 0) best = pattern;
  const caps = best === undefined ? new Set<VaultCapability>() : merged.get(best)!;
  return caps.has('deny') ? new Set<VaultCapability>(['deny']) : caps;
}

/** Vault's built-in `default` policy, reduced to the token self-service paths clients use. */
export const DEFAULT_POLICY_RULES: readonly VaultPolicyRule[] = [
  { path: 'auth/token/lookup-self', capabilities: ['read'] },
  { path: 'auth/token/renew-self', capabilities: ['update'] },
  { path: 'auth/token/revoke-self', capabilities: ['update'] },
  { path: 'sys/capabilities-self', capabilities: ['update'] },
  { path: 'sys/internal/ui/mounts', capabilities: ['read'] },
  { path: 'sys/internal/ui/mounts/*', capabilities: ['read'] },
];
