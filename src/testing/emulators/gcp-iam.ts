// IAM of the emulated project: which principal (a service account's email) holds which Secret Manager
// permissions. Grants are project-wide, like a role binding on the project; tests grant and revoke single
// permissions (or the predefined roles) to produce the service's PERMISSION_DENIED answers.

/** The Secret Manager permissions each RPC needs.
 *
 * @example
 * ```ts
 * console.log(GCP_RPC_PERMISSIONS.AccessSecretVersion); // 'secretmanager.versions.access'
 * ```
 */
export const GCP_RPC_PERMISSIONS = {
  CreateSecret: 'secretmanager.secrets.create',
  GetSecret: 'secretmanager.secrets.get',
  UpdateSecret: 'secretmanager.secrets.update',
  DeleteSecret: 'secretmanager.secrets.delete',
  ListSecrets: 'secretmanager.secrets.list',
  AddSecretVersion: 'secretmanager.versions.add',
  AccessSecretVersion: 'secretmanager.versions.access',
  GetSecretVersion: 'secretmanager.versions.get',
  ListSecretVersions: 'secretmanager.versions.list',
  DisableSecretVersion: 'secretmanager.versions.disable',
  EnableSecretVersion: 'secretmanager.versions.enable',
  DestroySecretVersion: 'secretmanager.versions.destroy',
} as const;

/** An RPC of google.cloud.secretmanager.v1.SecretManagerService the emulator serves.
 *
 * @example
 * ```ts
 * const rpc: GcpRpc = 'AccessSecretVersion';
 * ```
 */
export type GcpRpc = keyof typeof GCP_RPC_PERMISSIONS;

/** The RPCs the emulator serves, in proto order of appearance. */
export const GCP_RPCS = Object.keys(GCP_RPC_PERMISSIONS) as GcpRpc[];

const ALL = Object.values(GCP_RPC_PERMISSIONS);
const READ_METADATA = [
  'secretmanager.secrets.get',
  'secretmanager.secrets.list',
  'secretmanager.versions.get',
  'secretmanager.versions.list',
];

/** Secret Manager's predefined roles and the permissions (of those the emulator checks) each grants.
 *
 * @example
 * ```ts
 * emulator.iam.grant(email, 'roles/secretmanager.secretAccessor');
 * ```
 */
export const GCP_SECRET_MANAGER_ROLES: Readonly<Record<string, readonly string[]>> = {
  'roles/secretmanager.admin': ALL,
  'roles/secretmanager.secretAccessor': ['secretmanager.versions.access'],
  'roles/secretmanager.viewer': READ_METADATA,
  'roles/secretmanager.secretVersionAdder': ['secretmanager.versions.add'],
  'roles/secretmanager.secretVersionManager': [
    'secretmanager.versions.add',
    'secretmanager.versions.enable',
    'secretmanager.versions.disable',
    'secretmanager.versions.destroy',
    'secretmanager.versions.get',
    'secretmanager.versions.list',
  ],
};

function expand(grants: readonly string[]): string[] {
  return grants.flatMap((g) => {
    if (g.startsWith('roles/')) {
      const role = GCP_SECRET_MANAGER_ROLES[g];
      if (!role)
        throw new Error(
          `unknown role "${g}": the emulator knows ${Object.keys(GCP_SECRET_MANAGER_ROLES).join(', ')}`,
        );
      return [...role];
    }
    if (!ALL.includes(g as (typeof ALL)[number])) {
      throw new Error(`unknown permission "${g}": the emulator checks ${ALL.join(', ')}`);
    }
    return [g];
  });
}

/**
 * Permissions per principal. A principal the emulator creates starts with `roles/secretmanager.admin`.
 *
 * @example
 * ```ts
 * emulator.iam.revoke(emulator.serviceAccount.email, 'secretmanager.versions.access');
 * // AccessSecretVersion now fails with PERMISSION_DENIED naming secretmanager.versions.access
 * emulator.iam.set(emulator.serviceAccount.email, ['roles/secretmanager.viewer']);
 * ```
 */
export class GcpIam {
  readonly #grants = new Map<string, Set<string>>();

  /** Adds permissions or predefined roles to a principal. */
  grant(email: string, ...grants: string[]): void {
    const set = this.#grants.get(email) ?? new Set<string>();
    for (const p of expand(grants)) set.add(p);
    this.#grants.set(email, set);
  }

  /** Removes permissions (or every permission of a predefined role) from a principal. */
  revoke(email: string, ...grants: string[]): void {
    const set = this.#grants.get(email);
    for (const p of expand(grants)) set?.delete(p);
  }

  /** Replaces a principal's permissions. */
  set(email: string, grants: readonly string[]): void {
    this.#grants.set(email, new Set(expand(grants)));
  }

  /** The permissions a principal holds, sorted. */
  permissionsOf(email: string): string[] {
    return [...(this.#grants.get(email) ?? [])].sort();
  }

  allows(email: string, permission: string): boolean {
    return this.#grants.get(email)?.has(permission) ?? false;
  }
}
