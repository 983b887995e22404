import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapAzureError, requiredRoleFor } from '../../src/providers/azure-key-vault-errors.js';

const ctx = {
  provider: 'azure-key-vault',
  operation: 'retrieve',
  credentialId: 'api_key',
  action: 'getSecret/action',
  credentialKind: 'client-secret',
  redact: ['s3cr3t-value'],
};

function restError(
  statusCode: number | undefined,
  code: string,
  inner?: string,
  headers: Record<string, string> = {},
) {
  return Object.assign(new Error(`${code}: message that is not parsed`), {
    name: 'RestError',
    statusCode,
    code,
    details: { error: { code, message: 'x', ...(inner ? { innerError: { code: inner } } : {}) } },
    response: { headers: { get: (n: string) => headers[n.toLowerCase()] } },
  });
}

describe('azure-key-vault error mapping (structured fields only)', () => {
  it('maps statuses and codes', () => {
    const cases: [number | undefined, string, string | undefined, string, boolean][] = [
      [404, 'SecretNotFound', undefined, 'NotFound', false],
      [401, 'Unauthorized', undefined, 'AuthenticationFailed', false],
      [403, 'Forbidden', 'ForbiddenByRbac', 'PermissionDenied', false],
      [409, 'Conflict', 'ObjectIsDeletedButRecoverable', 'Conflict', false],
      [429, 'Throttled', undefined, 'RateLimited', true],
      [500, 'InternalServerError', undefined, 'Unavailable', true],
      [503, 'ServiceUnavailable', undefined, 'Unavailable', true],
      [408, 'RequestTimeout', undefined, 'Unavailable', true],
      [501, 'NotImplemented', undefined, 'Unsupported', false],
      [undefined, 'REQUEST_SEND_ERROR', undefined, 'Unavailable', true],
    ];
    for (const [status, code, inner, expected, retryable] of cases) {
      const mapped = mapAzureError(restError(status, code, inner), ctx);
      assert.equal(mapped.code, expected, `${status} ${code}`);
      assert.equal(mapped.retryable, retryable, `${status} ${code} retryable`);
      if (inner) assert.equal(mapped.details.backendCode, inner);
    }
  });

  it('names the role and action on 403, and reads Retry-After', () => {
    const denied = mapAzureError(restError(403, 'Forbidden', 'ForbiddenByRbac'), ctx);
    assert.equal(denied.details.requiredRole, 'Key Vault Secrets User');
    assert.equal(denied.details.action, 'Microsoft.KeyVault/vaults/secrets/getSecret/action');
    assert.equal(requiredRoleFor('setSecret/action'), 'Key Vault Secrets Officer');
    assert.equal(requiredRoleFor('purge/action'), 'Key Vault Secrets Officer');
    assert.equal(
      mapAzureError(restError(429, 'Throttled', undefined, { 'retry-after': '3' }), ctx).details.retryAfterMs,
      3000,
    );
    assert.equal(
      mapAzureError(restError(503, 'X', undefined, { 'retry-after-ms': '250' }), ctx).details.retryAfterMs,
      250,
    );
  });

  it('maps identity errors by class name and keeps secrets out of the message', () => {
    const failure = Object.assign(new Error('AADSTS7000215: Invalid client secret s3cr3t-value provided.'), {
      name: 'AuthenticationError',
      statusCode: 401,
      errorResponse: { error: 'invalid_client' },
    });
    const mapped = mapAzureError(failure, ctx);
    assert.equal(mapped.code, 'AuthenticationFailed');
    assert.equal(mapped.details.backendCode, 'invalid_client');
    assert.ok(!mapped.message.includes('s3cr3t-value'));
    const outage = Object.assign(new Error('x'), { name: 'AuthenticationError', statusCode: 503 });
    assert.equal(mapAzureError(outage, ctx).code, 'Unavailable');
    assert.equal(mapAzureError(outage, ctx).retryable, true);
    const unavailable = Object.assign(new Error('no endpoint'), { name: 'CredentialUnavailableError' });
    assert.equal(mapAzureError(unavailable, ctx).code, 'AuthenticationFailed');
  });
});
