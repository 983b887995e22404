import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { AzureTokenCache } from '../../src/providers/azure-key-vault-auth.js';

describe('AzureTokenCache generations', () => {
  it('hands out the real expiry, and bumps its generation only when a handed-out token may be stale', async () => {
    const clock = new ManualClock(Date.now());
    let issued = 0;
    const cache = new AzureTokenCache(
      {
        getToken: async () => ({ token: `t${++issued}`, expiresOnTimestamp: clock.now() + 3_600_000 }),
      },
      clock,
    );
    const first = await cache.getToken('https://vault.azure.net/.default');
    assert.equal(first.token, 't1');
    assert.equal(
      first.expiresOnTimestamp,
      clock.now() + 3_600_000,
      'the real expiry, so the SDK may keep it',
    );
    assert.equal(cache.generation, 0, 'a first token replaces nothing');
    assert.equal((await cache.getToken('https://vault.azure.net/.default')).token, 't1');
    assert.equal(issued, 1);
    await clock.advance(3_400_000); // inside the refresh margin
    assert.equal(cache.hasDue, true);
    await cache.refreshDue(AbortSignal.timeout(1000));
    assert.equal(cache.generation, 1, 'a replaced token');
    assert.equal((await cache.getToken('https://vault.azure.net/.default')).token, 't2');
    cache.clear();
    assert.equal(cache.generation, 2, 'a dropped token (the vault refused it)');
    cache.clear();
    assert.equal(cache.generation, 2, 'clearing an empty cache drops nothing');
    assert.equal((await cache.getToken('https://vault.azure.net/.default')).token, 't3');
    assert.equal(cache.generation, 2);
  });
});
