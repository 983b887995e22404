// Server-side apply for the Kubernetes emulator: the field ownership the API server records in
// `metadata.managedFields` (structured-merge-diff, FieldsV1), applied as the real server does: an apply
// sets what it names, removes what its manager alone owned and no longer names, and conflicts with another
// manager's differing value unless forced; every other write (create, update, merge patch) records an
// `Update` entry for the fields it changed and takes them from their other owners.
import { KubeApiError } from './kubernetes-api.js';

/** One entry of `metadata.managedFields`, as the API server returns it. */
export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
}

/** A leaf a Secret's field set can hold: a top-level field, or one key of a map. */
type Leaf = string;
const SEP = '\u0000';
const MAPS = ['data', 'metadata.labels', 'metadata.annotations'] as const;
const SCALARS = ['type', 'immutable'] as const;

/** The leaves of a Secret-shaped object, with their values (what ownership is computed over). */
export function secretLeaves(object: Record<string, unknown>): Map<Leaf, unknown> {
  const leaves = new Map<Leaf, unknown>();
  for (const field of SCALARS) if (object[field] !== undefined) leaves.set(field, object[field]);
  for (const path of MAPS) {
    const map = path
      .split('.')
      .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], object);
    if (map && typeof map === 'object') {
      for (const [key, value] of Object.entries(map)) leaves.set(`${path}${SEP}${key}`, value);
    }
  }
  return leaves;
}

function toFieldsV1(leaves: Iterable<Leaf>): Record<string, unknown> {
  const root: Record<string, Record<string, unknown>> = {};
  const node = (path: string[]) => {
    let at = root as Record<string, unknown>;
    for (const part of path) {
      at[`f:${part}`] ??= {};
      at = at[`f:${part}`] as Record<string, unknown>;
    }
    return at;
  };
  for (const leaf of leaves) {
    const [path, key] = leaf.split(SEP) as [string, string | undefined];
    const at = node(path.split('.'));
    if (key !== undefined) at[`f:${key}`] = {};
  }
  return root;
}

function fromFieldsV1(fields: Record<string, unknown>): Set<Leaf> {
  const out = new Set<Leaf>();
  const strip = (k: string) => k.replace(/^f:/, '');
  for (const field of SCALARS) if (`f:${field}` in fields) out.add(field);
  for (const path of MAPS) {
    const map = path
      .split('.')
      .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[`f:${k}`], fields);
    if (map && typeof map === 'object')
      for (const key of Object.keys(map)) out.add(`${path}${SEP}${strip(key)}`);
  }
  return out;
}

function setLeaf(object: Record<string, unknown>, leaf: Leaf, value: unknown): void {
  const [path, key] = leaf.split(SEP) as [string, string | undefined];
  if (key === undefined) {
    object[path] = value;
    return;
  }
  let at = object;
  for (const part of path.split('.')) {
    at[part] ??= {};
    at = at[part] as Record<string, unknown>;
  }
  at[key] = value;
}

function deleteLeaf(object: Record<string, unknown>, leaf: Leaf): void {
  const [path, key] = leaf.split(SEP) as [string, string | undefined];
  if (key === undefined) {
    delete object[path];
    return;
  }
  const at = path
    .split('.')
    .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], object);
  if (at && typeof at === 'object') delete (at as Record<string, unknown>)[key];
}

/** The field path kubectl and the API server print for a leaf (`.data.password`, `.metadata.labels.app`). */
function fieldPath(leaf: Leaf): string {
  const [path, key] = leaf.split(SEP) as [string, string | undefined];
  return `.${path}${key === undefined ? '' : `.${key}`}`;
}

interface Owned {
  manager: string;
  operation: 'Apply' | 'Update';
  time: string;
  fields: Set<Leaf>;
}

function readOwners(entries: unknown): Owned[] {
  if (!Array.isArray(entries)) return [];
  return entries.map((e: ManagedFieldsEntry) => ({
    manager: e.manager,
    operation: e.operation,
    time: e.time,
    fields: fromFieldsV1(e.fieldsV1 ?? {}),
  }));
}

function writeOwners(owners: Owned[]): ManagedFieldsEntry[] {
  return owners
    .filter((o) => o.fields.size > 0)
    .map((o) => ({
      manager: o.manager,
      operation: o.operation,
      apiVersion: 'v1',
      time: o.time,
      fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1([...o.fields].sort()),
    }));
}

function ownerOf(owners: Owned[], manager: string, operation: Owned['operation'], time: string): Owned {
  let owner = owners.find((o) => o.manager === manager && o.operation === operation);
  if (!owner) {
    owner = { manager, operation, time, fields: new Set() };
    owners.push(owner);
  }
  owner.time = time;
  return owner;
}

/**
 * Applies `applied` (an apply patch) for `manager` over `current` (undefined: the object is created), as the
 * API server does; returns the resulting object (with its new `managedFields`) or throws the 409 Conflict
 * the server answers when another manager owns a named field with another value and `force` is false.
 */
export function serverSideApply(
  current: Record<string, unknown> | undefined,
  applied: Record<string, unknown>,
  manager: string,
  force: boolean,
  time: string,
  name: string,
): Record<string, unknown> {
  const base = structuredClone(current ?? { metadata: {} }) as Record<string, unknown>;
  base['metadata'] ??= {};
  const owners = readOwners((base['metadata'] as Record<string, unknown>)['managedFields']);
  const live = secretLeaves(base);
  const wanted = secretLeaves(applied);
  const self = ownerOf(owners, manager, 'Apply', time);
  const conflicts: { leaf: Leaf; manager: string }[] = [];
  for (const [leaf, value] of wanted) {
    if (!live.has(leaf) || JSON.stringify(live.get(leaf)) === JSON.stringify(value)) continue;
    for (const other of owners) {
      if (other !== self && other.fields.has(leaf)) conflicts.push({ leaf, manager: other.manager });
    }
  }
  if (conflicts.length > 0 && !force) throw applyConflict(conflicts, name);
  // Forced (or no conflict): a differing value takes the field from its other owners; an equal one is shared.
  for (const { leaf } of conflicts) for (const other of owners) if (other !== self) other.fields.delete(leaf);
  const released = [...self.fields].filter((leaf) => !wanted.has(leaf));
  self.fields = new Set(wanted.keys());
  for (const leaf of released) {
    if (!owners.some((o) => o.fields.has(leaf))) deleteLeaf(base, leaf);
  }
  for (const [leaf, value] of wanted) setLeaf(base, leaf, value);
  (base['metadata'] as Record<string, unknown>)['managedFields'] = writeOwners(owners);
  return base;
}

/**
 * Records a non-apply write (create, update, merge or JSON patch) by `manager`: the fields it added or
 * changed become its `Update` entry's and leave their other owners; removed fields leave every owner.
 */
export function recordUpdate(
  previous: Record<string, unknown> | undefined,
  next: Record<string, unknown>,
  manager: string,
  time: string,
): ManagedFieldsEntry[] {
  const owners = readOwners(
    (previous?.['metadata'] as Record<string, unknown> | undefined)?.['managedFields'],
  );
  const before = previous ? secretLeaves(previous) : new Map<Leaf, unknown>();
  const after = secretLeaves(next);
  const changed = [...after].filter(
    ([leaf, value]) => !before.has(leaf) || JSON.stringify(before.get(leaf)) !== JSON.stringify(value),
  );
  const removed = [...before.keys()].filter((leaf) => !after.has(leaf));
  for (const owner of owners) for (const leaf of removed) owner.fields.delete(leaf);
  if (changed.length > 0) {
    for (const owner of owners) for (const [leaf] of changed) owner.fields.delete(leaf);
    const self = ownerOf(owners, manager, 'Update', time);
    for (const [leaf] of changed) self.fields.add(leaf);
  }
  return writeOwners(owners);
}

/** The 409 Conflict of an apply, worded and structured like the API server's. */
function applyConflict(conflicts: { leaf: Leaf; manager: string }[], name: string): KubeApiError {
  const lines = conflicts.map((c) => `conflict with "${c.manager}": ${fieldPath(c.leaf)}`);
  return new KubeApiError({
    message:
      conflicts.length === 1
        ? `Apply failed with 1 conflict: ${lines[0]}`
        : `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`,
    reason: 'Conflict',
    details: {
      name,
      kind: 'secrets',
      causes: conflicts.map((c) => ({
        reason: 'FieldManagerConflict',
        message: `conflict with "${c.manager}"`,
        field: fieldPath(c.leaf),
      })),
    },
    code: 409,
  });
}

/**
 * The manager a non-apply write is recorded under: `?fieldManager=`, else the user agent up to its first
 * `/` (as the API server does).
 */
export function updateManager(fieldManager: string | null, userAgent: string | undefined): string {
  if (fieldManager) return fieldManager;
  return (userAgent ?? 'unknown').split('/')[0] || 'unknown';
}
