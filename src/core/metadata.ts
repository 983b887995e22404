import { randomUUID } from 'node:crypto';
import { checkOptionsObject, describeType, isPlainObject } from './arguments.js';
import { StorageError } from './errors.js';

/** How often a credential should be rotated. The library records it; rotation itself is the caller's job. */
export interface RotationPolicy {
  /** Days between rotations, a whole number from 1 to 36500. */
  intervalDays: number;
}

/**
 * Non-secret facts about a credential, stored beside it and returned exactly by every provider.
 *
 * @example
 * ```ts
 * import { createMetadata } from 'nebula-credential';
 * const metadata = createMetadata({ tags: { env: 'prod' }, rotationPolicy: { intervalDays: 90 } });
 * console.log(metadata.createdAt <= metadata.lastModified); // true
 * ```
 */
export interface CredentialMetadata {
  createdAt: Date;
  lastModified: Date;
  lastAccessed?: Date | undefined;
  rotationPolicy?: RotationPolicy | undefined;
  tags: Record<string, string>;
}

/**
 * Which credentials `list` returns. Every condition must hold: all `tags` pairs match exactly, and the
 * creation time lies within the inclusive bounds.
 *
 * @example
 * ```ts
 * const filter: CredentialFilter = { tags: { env: 'prod' }, createdAfter: new Date('2026-01-01') };
 * const ids = await provider.list(filter);
 * ```
 */
export interface CredentialFilter {
  tags?: Record<string, string> | undefined;
  createdAfter?: Date | undefined;
  createdBefore?: Date | undefined;
}

/**
 * Who is asking and why: carried into logs (the trace id) so operations can be correlated.
 *
 * @example
 * ```ts
 * import { createContext } from 'nebula-credential';
 * const ctx = createContext('billing-service', { scopeId: 'tenant-42' });
 * await provider.exists('api_key', ctx);
 * ```
 */
export interface CredentialContext {
  ownerId: string;
  scopeId?: string | undefined;
  traceId: string;
}

/**
 * Builds a context with a fresh trace id.
 *
 * @example
 * ```ts
 * import { createContext } from 'nebula-credential';
 * console.log(createContext('cli').traceId.length); // 36
 * ```
 */
export function createContext(
  ownerId: string,
  options: { scopeId?: string; traceId?: string } = {},
): CredentialContext {
  const given = checkOptionsObject(options, 'the options of createContext', ['scopeId', 'traceId']);
  const context = {
    ownerId,
    scopeId: given['scopeId'] as string | undefined,
    traceId: (given['traceId'] as string | undefined) ?? randomUUID(),
  };
  validateContext(context);
  return context;
}

/**
 * Checks a {@link CredentialContext} handed to an operation: an object whose `ownerId` and `traceId` are
 * strings (and `scopeId`, when present). Throws `InvalidConfig` naming the member, never its value.
 *
 * @example
 * ```ts
 * import { validateContext, createContext } from 'nebula-credential';
 * validateContext(createContext('billing-service')); // passes
 * validateContext({ ownerId: 42 } as never); // throws InvalidConfig
 * ```
 */
export function validateContext(context: unknown, provider?: string): void {
  if (context === undefined) return;
  const fail = (message: string): never => {
    throw new StorageError({
      code: 'InvalidConfig',
      message: `invalid credential context: ${message}`,
      provider,
      details: { issues: [{ path: 'context', message }] },
    });
  };
  if (!isPlainObject(context)) {
    fail(
      `it must be an object { ownerId, traceId, scopeId? } as createContext returns (got ${describeType(context)})`,
    );
  }
  const c = context as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof c['ownerId'] !== 'string')
    problems.push(`ownerId must be a string (got ${describeType(c['ownerId'])})`);
  if (typeof c['traceId'] !== 'string')
    problems.push(`traceId must be a string (got ${describeType(c['traceId'])})`);
  if (c['scopeId'] !== undefined && typeof c['scopeId'] !== 'string') {
    problems.push(`scopeId must be a string when given (got ${describeType(c['scopeId'])})`);
  }
  if (problems.length > 0) fail(problems.join('; '));
}

/**
 * Fresh metadata stamped with `now`.
 *
 * @example
 * ```ts
 * import { createMetadata } from 'nebula-credential';
 * const m = createMetadata({ tags: { team: 'payments' } });
 * console.log(m.tags.team); // payments
 * ```
 */
export function createMetadata(
  options: { tags?: Record<string, string>; rotationPolicy?: RotationPolicy; now?: Date } = {},
): CredentialMetadata {
  const given = checkOptionsObject(
    options,
    'the options of createMetadata',
    ['tags', 'rotationPolicy', 'now'],
    undefined,
    'InvalidMetadata',
  );
  const { tags, rotationPolicy, now = new Date() } = given;
  const problems: string[] = [];
  if (tags !== undefined && !isPlainObject(tags)) {
    problems.push(`tags must be an object of string keys to string values (got ${describeType(tags)})`);
  }
  if (rotationPolicy !== undefined && !isPlainObject(rotationPolicy)) {
    problems.push(`rotationPolicy must be an object { intervalDays } (got ${describeType(rotationPolicy)})`);
  }
  if (!(now instanceof Date)) problems.push(`now must be a Date (got ${describeType(now)})`);
  if (problems.length > 0) throw metadataError(problems);
  const metadata: CredentialMetadata = {
    createdAt: new Date(now as Date),
    lastModified: new Date(now as Date),
    tags: { ...(tags as Record<string, string> | undefined) },
  };
  if (rotationPolicy !== undefined) {
    metadata.rotationPolicy = {
      intervalDays: (rotationPolicy as Record<string, unknown>)['intervalDays'] as number,
    };
  }
  validateMetadata(metadata);
  return metadata;
}

function metadataError(problems: string[], provider?: string): StorageError {
  return new StorageError({
    code: 'InvalidMetadata',
    message: `invalid credential metadata: ${problems.join('; ')}`,
    provider,
    details: { problems },
  });
}

/**
 * Checks that metadata is well formed (valid dates, string tags, a sane rotation interval);
 * throws `InvalidMetadata` naming the problem. Tag keys and values are never echoed: they may be sensitive.
 *
 * @example
 * ```ts
 * import { validateMetadata, createMetadata } from 'nebula-credential';
 * validateMetadata(createMetadata()); // passes
 * ```
 */
export function validateMetadata(metadata: CredentialMetadata, provider?: string): void {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw metadataError([`metadata must be an object (got ${describeType(metadata)})`], provider);
  }
  const problems: string[] = [];
  for (const key of ['createdAt', 'lastModified', 'lastAccessed'] as const) {
    const value = metadata[key];
    if (value === undefined && key === 'lastAccessed') continue;
    if (!(value instanceof Date) || Number.isNaN(value.getTime()))
      problems.push(`${key} must be a valid Date`);
  }
  if (typeof metadata.tags !== 'object' || metadata.tags === null || Array.isArray(metadata.tags)) {
    problems.push('tags must be an object of string keys to string values');
  } else {
    let index = 0;
    for (const [key, value] of Object.entries(metadata.tags)) {
      if (key.length === 0) problems.push(`tag #${index + 1} has an empty key`);
      if (key === RESERVED_TAG_KEY)
        problems.push(`tag #${index + 1} has the reserved key "${RESERVED_TAG_KEY}"`);
      if (typeof value !== 'string') problems.push(`tag #${index + 1} has a value that is not a string`);
      index++;
    }
  }
  const interval = metadata.rotationPolicy?.intervalDays;
  if (
    metadata.rotationPolicy !== undefined &&
    (!Number.isInteger(interval) || (interval as number) < 1 || (interval as number) > 36500)
  ) {
    problems.push('rotationPolicy.intervalDays must be a whole number of days from 1 to 36500');
  }
  if (problems.length > 0) throw metadataError(problems, provider);
}

const FILTER_MEMBERS = ['tags', 'createdAfter', 'createdBefore'];
// Assigning it (as every reader of stored tags does) would set an object's prototype, not a tag.
const RESERVED_TAG_KEY = '__proto__';

/**
 * Checks a `list` filter the way {@link validateMetadata} checks metadata: an object with only `tags` (string
 * keys to string values), `createdAfter` and `createdBefore` (valid `Date`s). Throws `InvalidMetadata`
 * naming each problem, never a tag or a value. Every provider and the store run it before listing, so a
 * wrong filter fails the same way everywhere instead of matching nothing (or everything).
 *
 * @example
 * ```ts
 * import { validateFilter } from 'nebula-credential';
 * validateFilter({ tags: { env: 'prod' }, createdAfter: new Date('2026-01-01') }); // passes
 * validateFilter({ createdAfter: '2026-01-01' } as never); // throws InvalidMetadata: must be a Date
 * ```
 */
export function validateFilter(
  filter: unknown,
  provider?: string,
): asserts filter is CredentialFilter | undefined {
  if (filter === undefined) return;
  const fail = (problems: string[]): never => {
    throw new StorageError({
      code: 'InvalidMetadata',
      message: `invalid list filter: ${problems.join('; ')}`,
      provider,
      operation: 'list',
      details: { problems },
    });
  };
  if (!isPlainObject(filter)) {
    fail([
      `a filter must be an object { tags?, createdAfter?, createdBefore? } (got ${describeType(filter)})`,
    ]);
  }
  const f = filter as Record<string, unknown>;
  const problems: string[] = [];
  const unknown = Object.keys(f).filter((k) => !FILTER_MEMBERS.includes(k));
  if (unknown.length > 0) {
    problems.push(
      `${unknown.length} unknown ${unknown.length === 1 ? 'member' : 'members'} (a filter accepts tags, createdAfter and createdBefore)`,
    );
  }
  const tags = f['tags'];
  if (tags !== undefined) {
    if (!isPlainObject(tags)) {
      problems.push(`tags must be an object of string keys to string values (got ${describeType(tags)})`);
    } else {
      Object.entries(tags).forEach(([key, value], i) => {
        if (key.length === 0) problems.push(`tag #${i + 1} has an empty key`);
        if (key === RESERVED_TAG_KEY)
          problems.push(`tag #${i + 1} has the reserved key "${RESERVED_TAG_KEY}"`);
        if (typeof value !== 'string') problems.push(`tag #${i + 1} has a value that is not a string`);
      });
    }
  }
  for (const key of ['createdAfter', 'createdBefore']) {
    const value = f[key];
    if (value === undefined) continue;
    if (!(value instanceof Date)) problems.push(`${key} must be a Date (got ${describeType(value)})`);
    else if (Number.isNaN(value.getTime())) problems.push(`${key} is an invalid Date`);
  }
  if (problems.length > 0) fail(problems);
}

/**
 * What {@link matchesFilter} looks at: the tags and the creation time. A backend listing that knows only
 * the tags (or cannot read a credential's creation time) leaves `createdAt` out; it then fails any
 * creation bound, so a credential of unknown age is never listed as inside a time window.
 *
 * @example
 * ```ts
 * const facts: FilterFacts = { tags: { env: 'prod' }, createdAt: new Date('2026-03-01') };
 * ```
 */
export interface FilterFacts {
  tags: Record<string, string>;
  createdAt?: Date | undefined;
}

/**
 * True when `metadata` satisfies every condition of `filter` (an absent filter matches everything). It
 * expects a filter {@link validateFilter} accepted: it runs once per credential and does not re-check.
 * Every provider decides with this one matcher, after whatever narrowing its backend does server-side.
 *
 * @example
 * ```ts
 * import { matchesFilter, createMetadata } from 'nebula-credential';
 * matchesFilter(createMetadata({ tags: { env: 'prod' } }), { tags: { env: 'prod' } }); // true
 * matchesFilter({ tags: {} }, { createdAfter: new Date(0) }); // false: the creation time is unknown
 * ```
 */
export function matchesFilter(
  metadata: CredentialMetadata | FilterFacts,
  filter: CredentialFilter | undefined,
): boolean {
  if (!filter) return true;
  if (filter.tags) {
    for (const [key, value] of Object.entries(filter.tags)) {
      if (!Object.hasOwn(metadata.tags, key) || metadata.tags[key] !== value) return false;
    }
  }
  if (!filterBoundsCreation(filter)) return true;
  const created = metadata.createdAt?.getTime();
  if (created === undefined || Number.isNaN(created)) return false;
  if (filter.createdAfter && created < filter.createdAfter.getTime()) return false;
  if (filter.createdBefore && created > filter.createdBefore.getTime()) return false;
  return true;
}

/**
 * Applies the overwrite rule (see `StoreOptions`): the metadata a provider writes when it overwrites a
 * credential whose current metadata is `previous` (undefined: a new credential, `next` as given).
 * `createdAt` always comes from `previous`; tags and rotation policy from `previous` when kept.
 *
 * @example
 * ```ts
 * import { createMetadata, metadataForOverwrite } from 'nebula-credential';
 * const old = createMetadata({ tags: { team: 'a' }, now: new Date('2026-01-01') });
 * const written = metadataForOverwrite(old, createMetadata(), { keepTags: true });
 * console.log(written.tags.team, written.createdAt.toISOString()); // a 2026-01-01T00:00:00.000Z
 * ```
 */
export function metadataForOverwrite(
  previous: CredentialMetadata | undefined,
  next: CredentialMetadata,
  options: {
    keepTags?: boolean | undefined;
    keepRotationPolicy?: boolean | undefined;
    exactMetadata?: boolean | undefined;
  } = {},
): CredentialMetadata {
  if (!previous || options.exactMetadata) return next;
  const merged: CredentialMetadata = {
    ...next,
    createdAt: previous.createdAt,
    tags: options.keepTags ? { ...previous.tags } : next.tags,
  };
  const rotation = options.keepRotationPolicy ? previous.rotationPolicy : next.rotationPolicy;
  if (rotation) merged.rotationPolicy = { intervalDays: rotation.intervalDays };
  else delete merged.rotationPolicy;
  return merged;
}

/**
 * True when `filter` bounds the creation time, so a listing must know each credential's `createdAt`
 * (which some backends cost an extra request to learn) before {@link matchesFilter} can decide.
 *
 * @example
 * ```ts
 * import { filterBoundsCreation } from 'nebula-credential';
 * filterBoundsCreation({ tags: { env: 'prod' } }); // false
 * filterBoundsCreation({ createdAfter: new Date('2026-01-01') }); // true
 * ```
 */
export function filterBoundsCreation(filter: CredentialFilter | undefined): boolean {
  return filter?.createdAfter !== undefined || filter?.createdBefore !== undefined;
}

/** The JSON shape of {@link CredentialMetadata}: ISO-8601 dates with milliseconds. */
export interface CredentialMetadataJson {
  createdAt: string;
  lastModified: string;
  lastAccessed?: string;
  rotationPolicy?: RotationPolicy;
  tags: Record<string, string>;
}

/**
 * Serialises metadata for storage.
 *
 * @example
 * ```ts
 * import { metadataToJson, metadataFromJson, createMetadata } from 'nebula-credential';
 * const back = metadataFromJson(metadataToJson(createMetadata()));
 * ```
 */
export function metadataToJson(metadata: CredentialMetadata): CredentialMetadataJson {
  if (typeof metadata !== 'object' || metadata === null) {
    throw metadataError([`metadata must be an object (got ${describeType(metadata)})`]);
  }
  const json: CredentialMetadataJson = {
    createdAt: metadata.createdAt.toISOString(),
    lastModified: metadata.lastModified.toISOString(),
    tags: { ...metadata.tags },
  };
  if (metadata.lastAccessed) json.lastAccessed = metadata.lastAccessed.toISOString();
  if (metadata.rotationPolicy) json.rotationPolicy = { intervalDays: metadata.rotationPolicy.intervalDays };
  return json;
}

/**
 * Milliseconds since the epoch of a timestamp: `toISOString()`'s own form (`2026-01-02T03:04:05.678Z`, what
 * this library writes) read digit by digit, which is several times faster than V8's general date parser
 * on every read; any other form goes to `Date.parse`. NaN when it is no date.
 *
 * @example
 * ```ts
 * parseIsoTimestamp('2026-01-02T03:04:05.678Z'); // 1767323045678, as Date.parse gives
 * ```
 */
export function parseIsoTimestamp(text: string): number {
  if (text.length !== 24 || text.charCodeAt(23) !== 90 /* Z */) return Date.parse(text);
  const digits = (from: number, count: number): number => {
    let value = 0;
    for (let i = from; i < from + count; i++) {
      const code = text.charCodeAt(i) - 48;
      if (code < 0 || code > 9) return Number.NaN;
      value = value * 10 + code;
    }
    return value;
  };
  const separators = '--T::.';
  const at = [4, 7, 10, 13, 16, 19];
  for (let i = 0; i < at.length; i++) {
    if (text.charCodeAt(at[i]!) !== separators.charCodeAt(i)) return Date.parse(text);
  }
  const month = digits(5, 2);
  const day = digits(8, 2);
  const hours = digits(11, 2);
  const minutes = digits(14, 2);
  const seconds = digits(17, 2);
  // Out-of-range fields would roll over in Date.UTC; the general parser refuses them, so it decides.
  if (
    !(month >= 1 && month <= 12 && day >= 1 && day <= 31 && hours <= 23 && minutes <= 59 && seconds <= 59)
  ) {
    return Date.parse(text);
  }
  const year = digits(0, 4);
  // Date.UTC reads years 0-99 as 1900-1999.
  if (!(year >= 100)) return Date.parse(text);
  const ms = Date.UTC(year, month - 1, day, hours, minutes, seconds, digits(20, 3));
  // A day past the month's end (Feb 30) rolls over too: the general parser decides those.
  return new Date(ms).getUTCDate() === day ? ms : Date.parse(text);
}

/**
 * Parses stored metadata; throws `Corrupted` when the shape is wrong.
 *
 * @example
 * ```ts
 * import { metadataFromJson } from 'nebula-credential';
 * metadataFromJson({ createdAt: '2026-01-01T00:00:00.000Z', lastModified: '2026-01-01T00:00:00.000Z', tags: {} });
 * ```
 */
export function metadataFromJson(json: unknown): CredentialMetadata {
  const fail = (why: string): never => {
    throw new StorageError({ code: 'Corrupted', message: `stored metadata is malformed: ${why}` });
  };
  if (typeof json !== 'object' || json === null) return fail('not an object');
  const j = json as Record<string, unknown>;
  const date = (key: string, optional: boolean): Date | undefined => {
    const v = j[key];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string') return fail(`${key} is not a string`);
    const d = new Date(parseIsoTimestamp(v));
    if (Number.isNaN(d.getTime())) return fail(`${key} is not a date`);
    return d;
  };
  const tags = j['tags'];
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) return fail('tags is not an object');
  const tagCopy: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) {
    if (typeof v !== 'string') return fail('a tag value is not a string');
    tagCopy[k] = v;
  }
  const metadata: CredentialMetadata = {
    createdAt: date('createdAt', false)!,
    lastModified: date('lastModified', false)!,
    tags: tagCopy,
  };
  const accessed = date('lastAccessed', true);
  if (accessed) metadata.lastAccessed = accessed;
  const rotation = j['rotationPolicy'];
  if (rotation !== undefined) {
    const days = (rotation as Record<string, unknown> | null)?.['intervalDays'];
    if (typeof days !== 'number') return fail('rotationPolicy.intervalDays is not a number');
    metadata.rotationPolicy = { intervalDays: days };
  }
  return metadata;
}
