import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { PROVIDER_REGISTRY } from '../../src/providers/registry.js';
import { pkg, root } from './package-json.js';

describe('package surface', () => {
  it('resolves every subpath export to a built module with its documented export', async () => {
    const expected: Record<string, string> = {
      'nebula-credential': 'createStorageProvider',
      'nebula-credential/testing': 'runStorageProviderConformance',
    };
    for (const p of PROVIDER_REGISTRY) {
      expected[`nebula-credential/${p.subpath.slice(2)}`] = (await p.load()).name;
    }
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
    for (const sdk of PROVIDER_REGISTRY.flatMap((p) => p.peers.map((peer) => peer.name))) {
      assert.ok(pkg.peerDependencies[sdk], `${sdk} is not a peer dependency`);
      assert.equal(pkg.peerDependenciesMeta[sdk]?.optional, true, `${sdk} is not optional`);
      assert.equal(pkg.dependencies[sdk], undefined);
    }
  });

  it('no public declaration imports an optional SDK (structural types stand in for them)', () => {
    const sdks = PROVIDER_REGISTRY.flatMap((p) => p.peers.map((peer) => peer.name));
    const seen = new Set<string>();
    const offenders: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      // TSDoc examples quote imports too: only the declarations count.
      const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
      for (const [, spec] of text.matchAll(/(?:from |import\()['"]([^'"]+)['"]/g)) {
        if (spec!.startsWith('.')) visit(join(dirname(file), spec!.replace(/\.js$/, '.d.ts')));
        else if (sdks.some((sdk) => spec === sdk || spec!.startsWith(`${sdk}/`)))
          offenders.push(`${file}: ${spec}`);
      }
    };
    for (const entry of Object.values(pkg.exports)) {
      const types = (entry as { types?: string }).types;
      if (types) visit(join(root, types));
    }
    assert.ok(seen.size > 10, 'the walk found the declarations');
    assert.deepEqual(offenders, []);
  });
});
