import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { EncryptionManager } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import * as metadataModule from '../../src/core/metadata.js';
import type { StorageProvider } from '../../src/core/provider.js';
import { CredentialStore } from '../../src/core/store.js';
import { LocalStorageProvider } from '../../src/providers/local.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';
import { recordingLogger, tempRoot } from './local-helpers.js';

const SENTINEL = 'SENTINEL-filter-93ab';

/** Filters that are wrong in one way each; every one must be InvalidMetadata on every provider. */
const BAD_FILTERS: [string, unknown][] = [
  ['createdAfter as an ISO string', { createdAfter: '2020-01-01' }],
  ['createdBefore as a number', { createdBefore: 1_700_000_000_000 }],
  ['an invalid Date', { createdAfter: new Date('not a date') }],
  ['tags as a string', { tags: SENTINEL }],
  ['tags null', { tags: null }],
  ['tags as an array', { tags: [SENTINEL] }],
  ['a tag value that is a number', { tags: { env: 12 } }],
  ['a tag value that is an object', { tags: { env: { v: SENTINEL } } }],
  ['an unknown key (typo of tags)', { tag: { env: SENTINEL } }],
  ['a string filter', SENTINEL],
  ['a number filter', 7],
  ['an array filter', [SENTINEL]],
  ['null', null],
];

function checkRefusal(label: string, error: unknown, provider?: string): void {
  assert.ok(error instanceof StorageError, `${label}: ${inspect(error)}`);
  assert.equal(error.code, 'InvalidMetadata', `${label}: ${error.code} ${error.message}`);
  assert.match(error.message, /filter/, label);
  if (provider) assert.equal(error.provider, provider);
  for (const text of [error.message, inspect(error), JSON.stringify(error)]) {
    assert.ok(!text.includes(SENTINEL), `${label} leaks: ${text}`);
  }
}

async function seeded(provider: StorageProvider): Promise<void> {
  const data = EncryptionManager.generate().encrypt(Buffer.from('v'));
  for (let i = 0; i < 14; i++) {
    await provider.store(
      `cred_${i}`,
      data,
      metadataModule.createMetadata({ tags: { env: i % 2 ? 'prod' : 'dev' } }),
    );
  }
}

describe('list filters are validated like metadata, the same on every provider', () => {
  it('validateFilter names the problem and never the value', () => {
    for (const [label, filter] of BAD_FILTERS) {
      assert.throws(
        () => metadataModule.validateFilter(filter as never),
        (e: unknown) => {
          checkRefusal(label, e);
          return true;
        },
      );
    }
    metadataModule.validateFilter(undefined);
    metadataModule.validateFilter({});
    metadataModule.validateFilter({ tags: {}, createdAfter: new Date(0), createdBefore: undefined });
  });

  it('memory and local refuse each bad filter with InvalidMetadata and log no false warnings', async () => {
    const { root, cleanup } = tempRoot('filters');
    const logger = recordingLogger();
    try {
      const providers: StorageProvider[] = [
        new MemoryStorageProvider(),
        new LocalStorageProvider({ directory: root, logger }),
      ];
      for (const provider of providers) {
        await seeded(provider);
        for (const [label, filter] of BAD_FILTERS) {
          await assert.rejects(provider.list(filter as never), (e: unknown) => {
            checkRefusal(`${provider.name}: ${label}`, e, provider.name);
            return true;
          });
        }
        // Valid filters still work, identically.
        assert.equal((await provider.list({ tags: { env: 'prod' } })).length, 7);
        assert.equal((await provider.list({ createdAfter: new Date(Date.now() + 60_000) })).length, 0);
        assert.equal((await provider.list({ createdBefore: new Date(Date.now() + 60_000) })).length, 14);
        await provider.close();
      }
      const warnings = logger.lines.filter((l) => l.level === 'warn');
      assert.deepEqual(warnings, [], 'a bad filter must not look like unreadable credentials');
    } finally {
      cleanup();
    }
  });

  it('the store facade validates too, even over a provider that does not', async () => {
    const lax: StorageProvider = new MemoryStorageProvider();
    let listed = 0;
    const wrapped = new Proxy(lax, {
      get(target, key, receiver) {
        if (key === 'list') {
          return () => {
            listed++;
            return Promise.resolve([]);
          };
        }
        const value = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const store = new CredentialStore(wrapped, EncryptionManager.fromKey(randomBytes(32)));
    await assert.rejects(store.list({ createdAfter: '2020-01-01' } as never), (e: unknown) => {
      checkRefusal('facade', e);
      return true;
    });
    assert.equal(listed, 0);
  });
});

describe('matchesFilter is the one matcher every provider uses', () => {
  const created = new Date('2026-03-01T00:00:00.000Z');
  it('decides tags exactly (no prefix match, no inherited keys) and the creation bounds inclusively', () => {
    const facts = { tags: { env: 'prod', team: 'pay' }, createdAt: created };
    assert.equal(metadataModule.matchesFilter(facts, { tags: { env: 'prod' } }), true);
    assert.equal(metadataModule.matchesFilter(facts, { tags: { env: 'pro' } }), false);
    assert.equal(metadataModule.matchesFilter(facts, { tags: { toString: 'x' } }), false);
    assert.equal(
      metadataModule.matchesFilter(facts, { createdAfter: created, createdBefore: created }),
      true,
    );
    assert.equal(
      metadataModule.matchesFilter(facts, { createdAfter: new Date(created.getTime() + 1) }),
      false,
    );
  });
  it('a listing that does not know the creation time fails every creation bound, and only those', () => {
    const facts = { tags: { env: 'prod' } };
    assert.equal(metadataModule.matchesFilter(facts, { tags: { env: 'prod' } }), true);
    assert.equal(metadataModule.matchesFilter(facts, { createdAfter: new Date(0) }), false);
    assert.equal(metadataModule.matchesFilter(facts, { createdBefore: created }), false);
    assert.equal(metadataModule.filterBoundsCreation({ tags: { env: 'prod' } }), false);
    assert.equal(metadataModule.filterBoundsCreation({ createdBefore: created }), true);
    assert.equal(metadataModule.filterBoundsCreation(undefined), false);
  });
});
