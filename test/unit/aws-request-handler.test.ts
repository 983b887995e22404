import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildQueryString } from '@smithy/core/protocols';
import fc from 'fast-check';
import { queryString } from '../../src/providers/aws-secrets-manager-http.js';

describe('the AWS request handler', () => {
  it("builds the query string byte for byte as smithy's NodeHttpHandler does (what was signed is sent)", () => {
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const value = fc.oneof(text, fc.array(text, { maxLength: 3 }), fc.constant(null));
    fc.assert(
      fc.property(fc.dictionary(text, value, { maxKeys: 5 }), (query) => {
        assert.equal(queryString(query), buildQueryString(query as never));
      }),
      { seed: 20_261_202, numRuns: 500 },
    );
    // The characters encodeURIComponent keeps but RFC 3986 reserves, and a key without a value.
    assert.equal(queryString({ "a!'()*": "b!'()*", flag: null }), 'a%21%27%28%29%2A=b%21%27%28%29%2A&flag');
  });
});
