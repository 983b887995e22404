// Property-based tests of the contract: every input either works or gives a typed StorageError; never a raw
// TypeError (or the `Internal` that wraps one), a hang, a value in a message, or a change to another
// credential. Fixed seed and bounded runs, so CI is repeatable; FUZZ_SEED=<n> explores another part.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { systemClock } from '../../src/core/clock.js';
import { EncryptionManager } from '../../src/core/crypto.js';
import { STORAGE_ERROR_CODES, StorageError, type StorageErrorCode } from '../../src/core/errors.js';
import { CredentialId, MAX_CREDENTIAL_ID_BYTES } from '../../src/core/id.js';
import { silentLogger } from '../../src/core/logger.js';
import { type CredentialFilter, type CredentialMetadata, matchesFilter } from '../../src/core/metadata.js';
import { StorageMetrics } from '../../src/core/metrics.js';
import { decodeCredentialName, encodeCredentialName } from '../../src/core/name-mapping.js';
import type { StorageProvider } from '../../src/core/provider.js';
import { CredentialStore } from '../../src/core/store.js';
import { createStorageProvider, openCredentialStore } from '../../src/providers/factory.js';
import { LocalStorageProvider } from '../../src/providers/local.js';
import { credentialPathParts, idFromPathParts } from '../../src/providers/local-layout.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';
import { recordingLogger, tempRoot } from '../unit/local-helpers.js';

const SEED = seedFromEnvironment();
/** Marks every generated string that must never reach an error message. */
const MARK = 'Qx7SNTLmark';

function seedFromEnvironment(): number {
  const raw = process.env['FUZZ_SEED'];
  if (raw === undefined || raw.trim() === '') return 1_917_358_241;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${raw}`);
  return seed;
}

/** fc.assert with the fixed seed, a per-run deadline (a hang fails the property) and the seed in the failure. */
async function holds<Ts extends [unknown, ...unknown[]]>(
  name: string,
  property: fc.IAsyncProperty<Ts> | fc.IProperty<Ts>,
  numRuns: number,
): Promise<void> {
  try {
    await fc.assert(property as fc.IAsyncProperty<Ts>, {
      seed: SEED,
      numRuns,
      verbose: fc.VerbosityLevel.Verbose,
      timeout: 20_000,
    });
  } catch (error) {
    const rerun = `rerun with FUZZ_SEED=${SEED} node scripts/run-tests.mjs fuzz`;
    console.error(`fuzz property "${name}" failed with seed ${SEED}; ${rerun}`);
    if (error instanceof Error) error.message = `${name} (seed ${SEED}; ${rerun})\n${error.message}`;
    throw error;
  }
}

/** The error is a StorageError of a known, non-Internal code whose renderings hold none of `secrets`. */
function assertTyped(
  error: unknown,
  allowed: readonly StorageErrorCode[] | undefined,
  secrets: readonly string[] = [MARK],
): asserts error is StorageError {
  if (!(error instanceof StorageError)) throw new Error(`not a StorageError: ${inspect(error)}`);
  assert.ok(STORAGE_ERROR_CODES.includes(error.code), error.code);
  assert.notEqual(error.code, 'Internal', `an unexpected error escaped: ${inspect(error)}`);
  if (allowed)
    assert.ok(allowed.includes(error.code), `${error.code} not in ${allowed.join(', ')}: ${error.message}`);
  for (const text of [error.message, inspect(error), JSON.stringify(error)]) {
    for (const secret of secrets) assert.ok(!text.includes(secret), `a value leaked: ${text}`);
  }
}

/** Counts both outcomes of a property, so a generator that never reaches one of them is noticed. */
class Tally {
  accepted = 0;
  refused = 0;
  constructor(readonly name: string) {}
  count(ok: boolean): void {
    if (ok) this.accepted++;
    else this.refused++;
  }
  /** Both branches ran (with the fixed seed this is deterministic; other seeds keep it very likely). */
  assertBoth(): void {
    console.log(`# ${this.name}: ${this.accepted} accepted, ${this.refused} refused`);
    assert.ok(this.accepted > 0, `${this.name}: no input was accepted`);
    assert.ok(this.refused > 0, `${this.name}: no input was refused`);
  }
}

async function outcome<T>(
  call: () => T | Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    return { ok: false, error };
  }
}

const marked = fc.string({ unit: 'grapheme', maxLength: 24 }).map((s) => `${MARK}${s}`);
/** Any JSON-ish value, with marked strings among them. */
const anyValue = fc.oneof(fc.anything({ maxDepth: 2 }), marked, fc.constant(null), fc.constant(Number.NaN));

/** Mostly valid values (so providers do get built and used), sometimes anything at all. */
const mostly = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: anyValue, weight: 1 });

const roots: (() => void)[] = [];
after(() => {
  for (const cleanup of roots) cleanup();
});
function temp(label: string): string {
  const { root, cleanup } = tempRoot(`fuzz-${label}`);
  roots.push(cleanup);
  return root;
}

const TRICKY = [
  'a',
  'Z',
  '0',
  '-',
  '_',
  'é',
  'e\u0301',
  '\u1100',
  '\u1161',
  '\u0958',
  'Ж',
  '東',
  '𝒜',
  'ﬀ',
  '\u212b',
  '\u3164',
  '\u115f',
  '\u200b',
  '\u200d',
  '\u202e',
  '\u2066',
  '\ufeff',
  '\u034f',
  '\u00ad',
  '\u0301',
  '\ud800',
  '\udc00',
  '.',
  '/',
  '\\',
  '\0',
  ' ',
  '\n',
  '\u009b',
];
const idArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,300}$/),
  fc.array(fc.constantFrom(...TRICKY), { maxLength: 90 }).map((parts) => parts.join('')),
);

describe('fuzz: ids', () => {
  it('every string parses to a valid NFC id that round-trips through every name mapping, or is InvalidId', async () => {
    const tally = new Tally('ids');
    await holds(
      'ids',
      fc.property(idArb, idArb, (left, right) => {
        for (const candidate of [left, `${left}${MARK}${right}`]) {
          let id: CredentialId;
          try {
            id = CredentialId.parse(candidate);
          } catch (error) {
            tally.count(false);
            assertTyped(error, ['InvalidId'], candidate === left ? [] : [MARK]);
            assert.equal(CredentialId.isValid(candidate), false);
            continue;
          }
          tally.count(true);
          const value = id.value;
          assert.equal(CredentialId.isValid(candidate), true);
          assert.equal(value, value.normalize('NFC'));
          assert.equal(value, candidate.normalize('NFC'));
          assert.ok(Buffer.byteLength(value) <= MAX_CREDENTIAL_ID_BYTES);
          assert.equal(CredentialId.parse(value).value, value, 'parse is idempotent');
          assert.ok(id.equals(candidate));
          for (const profile of ['filesystem', 'lowercase-dns'] as const) {
            const name = encodeCredentialName(candidate, profile);
            assert.equal(name, encodeCredentialName(value, profile));
            assert.equal(decodeCredentialName(name, profile)?.value, value);
          }
          assert.equal(idFromPathParts(credentialPathParts(candidate))?.value, value);
        }
      }),
      400,
    );
    tally.assertBoth();
  });
});

// ---- tags and rotation policies through the store ---------------------------------------------------

const tagKey = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom('', '__proto__', 'constructor', 'env', MARK),
);
const tagsArb = fc.oneof(
  fc.dictionary(tagKey, mostly(marked), { maxKeys: 6, noNullPrototype: true }),
  anyValue,
  fc.constant(undefined),
);
const rotationArb = fc.oneof(
  fc.constant(undefined),
  fc.record({
    intervalDays: fc.oneof(fc.integer({ min: -5, max: 40_000 }), fc.double(), marked, fc.constant(null)),
  }),
  anyValue,
);

function sameMetadata(actual: CredentialMetadata, expected: CredentialMetadata): void {
  assert.deepEqual(actual.tags, expected.tags);
  assert.deepEqual(actual.rotationPolicy, expected.rotationPolicy);
  assert.equal(actual.createdAt.getTime(), expected.createdAt.getTime());
}

async function storeOver(provider: StorageProvider): Promise<CredentialStore> {
  const store = new CredentialStore(provider, EncryptionManager.generate(), {
    disposeEncryptionOnClose: true,
  });
  await store.put('bystander', `${MARK}-bystander`, { tags: { keep: 'me' } });
  return store;
}

async function bystanderIntact(store: CredentialStore): Promise<void> {
  const { secret, metadata } = await store.get('bystander');
  assert.equal(secret.expose(), `${MARK}-bystander`);
  assert.deepEqual(metadata.tags, { keep: 'me' });
  secret.dispose();
}

describe('fuzz: tags and rotation policies', () => {
  for (const backend of ['memory', 'local'] as const) {
    it(`${backend}: put either stores them exactly or refuses them typed, leaving others alone`, async () => {
      const provider =
        backend === 'memory'
          ? new MemoryStorageProvider()
          : new LocalStorageProvider({ directory: temp('tags') });
      const store = await storeOver(provider);
      const tally = new Tally(`${backend} tags and rotation`);
      // The overwrite rule: a put without tags (rotation policy) keeps those of the last successful put.
      let kept: { tags: Record<string, string>; intervalDays?: number | undefined } = { tags: {} };
      await holds(
        `${backend} tags and rotation`,
        fc.asyncProperty(tagsArb, rotationArb, async (tags, rotationPolicy) => {
          const options = {
            ...(tags === undefined ? {} : { tags }),
            ...(rotationPolicy === undefined ? {} : { rotationPolicy }),
          } as never;
          const put = await outcome(() => store.put('target', `${MARK}-value`, options));
          tally.count(put.ok);
          if (put.ok) {
            const { secret, metadata } = await store.get('target');
            assert.equal(secret.expose(), `${MARK}-value`);
            secret.dispose();
            sameMetadata(metadata, put.value);
            assert.deepEqual(metadata.tags, tags ?? kept.tags);
            const given = (rotationPolicy as { intervalDays?: number } | undefined)?.intervalDays;
            assert.equal(
              metadata.rotationPolicy?.intervalDays,
              rotationPolicy === undefined ? kept.intervalDays : given,
            );
            kept = { tags: metadata.tags, intervalDays: metadata.rotationPolicy?.intervalDays };
          } else {
            assertTyped(put.error, ['InvalidMetadata', 'InvalidConfig', 'SizeLimitExceeded']);
          }
          await bystanderIntact(store);
        }),
        backend === 'memory' ? 300 : 60,
      );
      tally.assertBoth();
      await store.close();
    });
  }
});

// ---- list filters -----------------------------------------------------------------------------------

const BASE_TIME = Date.UTC(2026, 0, 1);
const SEEDED: { id: string; metadata: CredentialMetadata }[] = Array.from({ length: 6 }, (_, i) => ({
  id: `cred_${i}`,
  metadata: {
    createdAt: new Date(BASE_TIME + i * 86_400_000),
    lastModified: new Date(BASE_TIME + i * 86_400_000),
    tags: { env: i % 2 ? 'prod' : 'dev', team: ['a', 'b', 'c'][i % 3]! },
  },
}));
const dateLike = fc.oneof(
  fc.integer({ min: -3, max: 9 }).map((d) => new Date(BASE_TIME + d * 86_400_000)),
  fc.constant(new Date(Number.NaN)),
  fc.string({ maxLength: 12 }),
  fc.integer(),
  anyValue,
);
const validDate = fc.integer({ min: -3, max: 9 }).map((d) => new Date(BASE_TIME + d * 86_400_000));
const validFilter = fc.record(
  {
    tags: fc.dictionary(fc.constantFrom('env', 'team', 'other'), fc.constantFrom('dev', 'prod', 'a', 'b'), {
      maxKeys: 2,
      noNullPrototype: true,
    }),
    createdAfter: validDate,
    createdBefore: validDate,
  },
  { requiredKeys: [] },
);
const filterArb = fc.oneof(
  { arbitrary: validFilter, weight: 3 },
  fc.record(
    {
      tags: fc.oneof(
        fc.dictionary(
          fc.constantFrom('env', 'team', 'other', '', '__proto__'),
          fc.constantFrom('dev', 'prod', 'a', 'b'),
          {
            noNullPrototype: true,
          },
        ),
        fc.dictionary(tagKey, fc.oneof(marked, anyValue), { maxKeys: 3, noNullPrototype: true }),
        anyValue,
      ),
      createdAfter: dateLike,
      createdBefore: dateLike,
      tag: anyValue,
    },
    { requiredKeys: [] },
  ),
  anyValue,
);

describe('fuzz: list filters', () => {
  it('memory and local agree with matchesFilter on valid filters and refuse the rest with InvalidMetadata', async () => {
    const logger = recordingLogger();
    const providers: StorageProvider[] = [
      new MemoryStorageProvider(),
      new LocalStorageProvider({ directory: temp('filters'), logger }),
    ];
    const data = EncryptionManager.generate().encrypt(Buffer.from('v'));
    for (const provider of providers) {
      for (const { id, metadata } of SEEDED) await provider.store(id, data, metadata);
    }
    const tally = new Tally('list filters');
    await holds(
      'list filters',
      fc.asyncProperty(filterArb, async (filter) => {
        const results = await Promise.all(
          providers.map((p) => outcome(() => p.list(filter as CredentialFilter))),
        );
        const [memory, local] = results as [
          Awaited<ReturnType<typeof outcome<string[]>>>,
          Awaited<ReturnType<typeof outcome<string[]>>>,
        ];
        assert.equal(memory.ok, local.ok, 'the providers disagree on whether the filter is valid');
        tally.count(memory.ok);
        if (memory.ok && local.ok) {
          const expected = SEEDED.filter((s) => matchesFilter(s.metadata, filter as CredentialFilter)).map(
            (s) => s.id,
          );
          assert.deepEqual(memory.value, expected);
          assert.deepEqual(local.value, expected);
        } else {
          for (const r of results) if (!r.ok) assertTyped(r.error, ['InvalidMetadata', 'InvalidConfig']);
        }
      }),
      300,
    );
    tally.assertBoth();
    assert.deepEqual(
      logger.lines.filter((l) => l.level === 'warn'),
      [],
      'a filter must never look like unreadable credentials',
    );
    for (const provider of providers) await provider.close();
  });
});

// ---- option objects ---------------------------------------------------------------------------------

const validCommonOptions = {
  retry: mostly(
    fc.record(
      {
        maxRetries: fc.integer({ min: 0, max: 20 }),
        baseDelayMs: fc.integer({ min: 1, max: 100 }),
        multiplier: fc.double({ min: 1, max: 10, noNaN: true }),
        jitter: fc.double({ min: 0, max: 1, noNaN: true }),
      },
      { requiredKeys: [] },
    ),
  ),
  timeouts: mostly(
    fc.record(
      {
        readMs: fc.integer({ min: 1, max: 600_000 }),
        writeMs: fc.integer({ min: 1, max: 600_000 }),
        connectMs: fc.integer({ min: 1, max: 600_000 }),
      },
      { requiredKeys: [] },
    ),
  ),
  logger: mostly(fc.constantFrom(silentLogger, recordingLogger())),
  clock: mostly(fc.constant(systemClock)),
  metrics: mostly(fc.constant(new StorageMetrics())),
  maxCredentialSize: mostly(fc.integer({ min: 1, max: 1024 * 1024 })),
};
const commonOptions = {
  retry: fc.oneof(
    anyValue,
    fc.record(
      {
        maxRetries: anyValue,
        baseDelayMs: fc.oneof(fc.integer({ min: 1, max: 50 }), anyValue),
        jitter: anyValue,
      },
      { requiredKeys: [] },
    ),
  ),
  timeouts: fc.oneof(
    anyValue,
    fc.record(
      { readMs: anyValue, writeMs: anyValue, connectMs: fc.oneof(fc.integer(), anyValue) },
      { requiredKeys: [] },
    ),
  ),
  logger: anyValue,
  clock: anyValue,
  metrics: anyValue,
  maxCredentialSize: fc.oneof(fc.integer({ min: -1, max: 5_000_000 }), anyValue),
};
const extraKeys = fc.dictionary(fc.constantFrom('colour', 'directroy', 'provider'), anyValue, {
  maxKeys: 2,
  noNullPrototype: true,
});

async function exercise(provider: StorageProvider): Promise<void> {
  const r = await outcome(() => provider.exists('probe'));
  if (!r.ok) assertTyped(r.error, undefined);
  await provider.close();
}

describe('fuzz: option objects', () => {
  it('createStorageProvider (memory, local) works or refuses with InvalidConfig, never echoing a value', async () => {
    const localRoot = temp('options');
    let n = 0;
    const localOptions = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record(
          {
            ...validCommonOptions,
            createDirectory: mostly(fc.constant(true)),
            maxMetadataBytes: mostly(fc.integer({ min: 1024, max: 100_000 })),
            lockStaleMs: mostly(fc.integer({ min: 100, max: 3_600_000 })),
            insecurePermissions: mostly(fc.constantFrom('fix', 'refuse')),
          },
          { requiredKeys: [] },
        ),
      },
      fc.record(
        {
          ...commonOptions,
          createDirectory: fc.oneof(fc.boolean(), anyValue),
          maxMetadataBytes: fc.oneof(fc.integer({ min: 0, max: 100_000 }), anyValue),
          lockStaleMs: anyValue,
          insecurePermissions: fc.oneof(fc.constantFrom('fix', 'refuse', 'fixx'), anyValue),
        },
        { requiredKeys: [] },
      ),
    );
    const memoryOptions = fc.oneof(
      { arbitrary: fc.record(validCommonOptions, { requiredKeys: [] }), weight: 3 },
      fc.record(commonOptions, { requiredKeys: [] }),
    );
    const tally = new Tally('provider options');
    await holds(
      'provider options',
      fc.asyncProperty(
        fc.constantFrom('memory', 'local'),
        memoryOptions,
        localOptions,
        fc.oneof({ arbitrary: fc.constant({}), weight: 3 }, { arbitrary: extraKeys, weight: 1 }),
        fc.oneof(
          { arbitrary: fc.constant(undefined), weight: 4 },
          { arbitrary: fc.record({ connect: mostly(fc.boolean()) }, { requiredKeys: [] }), weight: 2 },
          { arbitrary: anyValue, weight: 1 },
        ),
        async (name, memoryOptions, local, extra, factoryOptions) => {
          const config =
            name === 'memory'
              ? { ...extra, ...memoryOptions, provider: 'memory' }
              : // The directory is never fuzzed: a run must not create directories outside its temp root.
                { ...extra, ...local, provider: 'local', directory: join(localRoot, `d${n++}`) };
          const r = await outcome(() => createStorageProvider(config as never, factoryOptions as never));
          tally.count(r.ok);
          if (r.ok) await exercise(r.value);
          // A tiny connect deadline is a valid option: connecting may then time out.
          else assertTyped(r.error, ['InvalidConfig', 'Timeout']);
        },
      ),
      150,
    );
    tally.assertBoth();
  });

  it('openCredentialStore works or refuses typed for any encryption and storage', async () => {
    const keyDir = temp('keys');
    const goodKeyFile = join(keyDir, 'key');
    writeFileSync(goodKeyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    chmodSync(goodKeyFile, 0o600);
    const shared = EncryptionManager.generate();
    const encryptionArb = fc.oneof(
      {
        arbitrary: fc.oneof(
          fc.record({ key: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
          fc.constant({ keyFile: goodKeyFile }),
          fc.constant({ manager: shared }),
        ),
        weight: 6,
      },
      // Argon2id takes a while: rare, but present.
      {
        arbitrary: fc.record({ passphrase: marked, salt: fc.uint8Array({ minLength: 16, maxLength: 24 }) }),
        weight: 1,
      },
      { arbitrary: anyValue, weight: 3 },
      {
        arbitrary: fc.record(
          {
            key: fc.oneof(fc.uint8Array({ minLength: 30, maxLength: 33 }), anyValue),
            keyFile: fc.oneof(
              fc.constant(goodKeyFile),
              fc.constant(keyDir),
              fc.constant(join(keyDir, 'none')),
              anyValue,
            ),
            passphrase: fc.oneof(marked, anyValue),
            salt: fc.oneof(
              fc.uint8Array({ minLength: 8, maxLength: 20 }),
              fc.base64String({ maxLength: 32 }),
              anyValue,
            ),
            manager: fc.oneof(fc.constant(shared), anyValue),
            passphraseFile: anyValue,
          },
          { requiredKeys: [] },
        ),
        weight: 6,
      },
    );
    const storageArb = fc.oneof(
      { arbitrary: fc.constant({ provider: 'memory' }), weight: 4 },
      fc.record(
        { provider: fc.oneof(fc.constant('memory'), anyValue), timeouts: anyValue },
        { requiredKeys: [] },
      ),
      anyValue,
    );
    const tally = new Tally('openCredentialStore');
    await holds(
      'openCredentialStore',
      fc.asyncProperty(
        encryptionArb,
        storageArb,
        fc.oneof({ arbitrary: fc.constant({}), weight: 4 }, extraKeys),
        async (encryption, storage, extra) => {
          const options = { ...extra, storage, encryption };
          const r = await outcome(() => openCredentialStore(options as never));
          tally.count(r.ok);
          if (!r.ok) {
            assertTyped(r.error, ['InvalidConfig', 'Timeout']);
            return;
          }
          const store = r.value;
          await store.put('probe', `${MARK}v`);
          const { secret } = await store.get('probe');
          assert.equal(secret.expose(), `${MARK}v`);
          secret.dispose();
          await store.close();
          assert.equal(shared.disposed, false, 'a store disposed a manager it was given');
        },
      ),
      120,
    );
    tally.assertBoth();
  });
});

// ---- stored documents read by the local provider ----------------------------------------------------

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'replace'; json: unknown }
  | { kind: 'field'; path: string; json: unknown }
  | { kind: 'append'; text: string };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('replace' as const), json: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({
    kind: fc.constant('field' as const),
    path: fc.constantFrom(
      'format',
      'data',
      'metadata',
      'data.version',
      'data.keyId',
      'data.nonce',
      'data.ciphertext',
      'data.tag',
      'metadata.createdAt',
      'metadata.lastModified',
      'metadata.lastAccessed',
      'metadata.tags',
      'metadata.rotationPolicy',
    ),
    json: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.base64String({ maxLength: 40 })),
  }),
  fc.record({ kind: fc.constant('append' as const), text: fc.string({ maxLength: 8 }) }),
);

function mutate(original: Buffer, m: Mutation): Buffer {
  switch (m.kind) {
    case 'truncate':
      return original.subarray(0, m.at % original.length);
    case 'flip': {
      const copy = Buffer.from(original);
      const at = m.at % copy.length;
      copy[at] = copy[at]! ^ (1 << m.bit);
      return copy;
    }
    case 'replace':
      return Buffer.from(JSON.stringify(m.json));
    case 'append':
      return Buffer.concat([original, Buffer.from(m.text)]);
    case 'field': {
      const doc = JSON.parse(original.toString('utf8')) as Record<string, Record<string, unknown>>;
      const [head, tail] = m.path.split('.') as [string, string | undefined];
      if (tail === undefined) (doc as Record<string, unknown>)[head] = m.json;
      else doc[head]![tail] = m.json;
      return Buffer.from(JSON.stringify(doc));
    }
  }
}

describe('fuzz: stored documents', () => {
  it('a truncated, bit-flipped or retyped document reads back exactly, or fails typed, and nothing else changes', async () => {
    const directory = temp('documents');
    const logger = recordingLogger();
    const store = await storeOver(new LocalStorageProvider({ directory, logger }));
    const VALUE = `${MARK}-victim-value`;
    await store.put('victim', VALUE, { tags: { env: 'prod' } });
    const file = join(directory, ...credentialPathParts('victim'));
    const original = readFileSync(file);
    const tally = new Tally('stored documents');
    await holds(
      'stored documents',
      fc.asyncProperty(mutationArb, async (mutation) => {
        writeFileSync(file, mutate(original, mutation), { mode: 0o600 });
        const got = await outcome(() => store.get('victim'));
        tally.count(got.ok);
        if (got.ok) {
          // Metadata is not authenticated, the value is: it is the exact one or nothing.
          assert.equal(got.value.secret.expose(), VALUE);
          got.value.secret.dispose();
        } else {
          assertTyped(got.error, ['Corrupted', 'DecryptionFailed', 'Unsupported'], [MARK]);
        }
        const described = await outcome(() => store.describe('victim'));
        if (!described.ok) assertTyped(described.error, ['Corrupted', 'Unsupported']);
        assert.deepEqual(await store.list(), ['bystander', 'victim']);
        const filtered = await outcome(() => store.list({ tags: { keep: 'me' } }));
        assert.ok(filtered.ok);
        assert.deepEqual(filtered.value, ['bystander']);
        assert.equal(await store.exists('victim'), true);
        await bystanderIntact(store);
      }),
      200,
    );
    tally.assertBoth();
    // The unreadable versions were skipped by the filtered list with a warning naming the id, never a value.
    for (const line of logger.lines) assert.ok(!JSON.stringify(line).includes(MARK), JSON.stringify(line));
    await store.close();
  });
});
