import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as {
  exports: Record<string, unknown>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  dependencies: Record<string, string>;
};

describe('package surface', () => {
  it('resolves every subpath export to a built module with its documented export', async () => {
    const expected: Record<string, string> = {
      'nebula-credential': 'createStorageProvider',
      'nebula-credential/local': 'LocalStorageProvider',
      'nebula-credential/memory': 'MemoryStorageProvider',
      'nebula-credential/aws': 'AwsSecretsManagerProvider',
      'nebula-credential/azure': 'AzureKeyVaultProvider',
      'nebula-credential/vault': 'HashiCorpVaultProvider',
      'nebula-credential/kubernetes': 'KubernetesSecretsProvider',
      'nebula-credential/testing': 'runStorageProviderConformance',
    };
    const declared = Object.keys(pkg.exports)
      .filter((k) => k !== './package.json')
      .map((k) => (k === '.' ? 'nebula-credential' : `nebula-credential/${k.slice(2)}`));
    assert.deepEqual(declared.sort(), Object.keys(expected).sort());
    for (const [specifier, name] of Object.entries(expected)) {
      const mod = (await import(specifier)) as Record<string, unknown>;
      assert.equal(typeof mod[name], 'function', `${specifier} lacks ${name}`);
    }
  });

  it('declares every cloud SDK as an optional peer, never as a dependency', () => {
    for (const sdk of [
      '@aws-sdk/client-secrets-manager',
      '@azure/keyvault-secrets',
      '@azure/identity',
      '@kubernetes/client-node',
    ]) {
      assert.ok(pkg.peerDependencies[sdk], `${sdk} is not a peer dependency`);
      assert.equal(pkg.peerDependenciesMeta[sdk]?.optional, true, `${sdk} is not optional`);
      assert.equal(pkg.dependencies[sdk], undefined);
    }
  });
});
