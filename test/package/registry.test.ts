import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { StorageError } from '../../src/core/errors.js';
import {
  OPTIONS_TABLE_MARKERS,
  renderOptionsTable,
  replaceOptionsTable,
} from '../../src/core/options-docs.js';
import { EMULATORS, PROVIDER_NAMES, PROVIDER_REGISTRY } from '../../src/providers/registry.js';
import { pkg, root } from './package-json.js';

/** Whether `version` (x.y.z) is within a caret range `^a.b.c`. */
function satisfiesCaret(version: string, range: string): boolean {
  const [v, r] = [version, range.replace(/^\^/, '')].map((s) => s.split('.').map(Number)) as [
    number[],
    number[],
  ];
  if (v[0] !== r[0]) return false;
  for (let i = 1; i < 3; i++) if (v[i]! !== r[i]!) return v[i]! > r[i]!;
  return true;
}

describe('provider registry', () => {
  it('has one entry per name and subpath, and PROVIDER_NAMES follows it', () => {
    const names = PROVIDER_REGISTRY.map((p) => p.name);
    assert.equal(new Set(names).size, names.length);
    assert.equal(new Set(PROVIDER_REGISTRY.map((p) => p.subpath)).size, names.length);
    assert.deepEqual([...PROVIDER_NAMES], names);
    for (const p of PROVIDER_REGISTRY) assert.equal(p.options.provider, p.name, `${p.name}: schema name`);
  });

  it("package.json's peerDependencies are exactly the registry's peers, with its ranges, optional", () => {
    const expected: Record<string, string> = {};
    for (const p of PROVIDER_REGISTRY) for (const peer of p.peers) expected[peer.name] = peer.range;
    const add = Object.entries(expected).filter(([name, range]) => pkg.peerDependencies[name] !== range);
    assert.deepEqual(
      add,
      [],
      `set these in package.json peerDependencies: ${JSON.stringify(Object.fromEntries(add))}`,
    );
    assert.deepEqual(Object.keys(pkg.peerDependencies).sort(), Object.keys(expected).sort());
    for (const name of Object.keys(expected)) {
      assert.equal(
        pkg.peerDependenciesMeta[name]?.optional,
        true,
        `peerDependenciesMeta["${name}"].optional`,
      );
      assert.equal(pkg.dependencies[name], undefined, `${name} must not be a dependency`);
      const dev = pkg.devDependencies[name];
      assert.ok(
        dev && satisfiesCaret(dev, expected[name]!),
        `devDependencies["${name}"] (${dev}) within ${expected[name]}`,
      );
    }
  });

  it("package.json's exports are the registry's subpaths (plus the root and ./testing)", () => {
    for (const p of PROVIDER_REGISTRY) {
      assert.deepEqual(
        pkg.exports[p.subpath],
        { types: `./dist/${p.module}.d.ts`, default: `./dist/${p.module}.js` },
        `package.json exports["${p.subpath}"]`,
      );
    }
    assert.deepEqual(
      Object.keys(pkg.exports).sort(),
      ['.', './package.json', './testing', ...PROVIDER_REGISTRY.map((p) => p.subpath)].sort(),
    );
  });

  it('each loader returns the class its module exports, named as the registry names it', async () => {
    for (const p of PROVIDER_REGISTRY) {
      const Provider = await p.load();
      const module = (await import(`../../src/${p.module}.js`)) as Record<string, unknown>;
      assert.equal(module[Provider.name], Provider, `${p.module} exports ${Provider.name}`);
      assert.throws(
        () => new Provider({ notAnOption: true } as never),
        (e: unknown) => e instanceof StorageError && e.code === 'InvalidConfig' && e.provider === p.name,
        p.name,
      );
    }
  });

  it('each emulator loader returns the module the emulator command starts', async () => {
    const names = EMULATORS.map((e) => e.name);
    assert.equal(new Set(names).size, names.length, 'one emulator per name');
    assert.ok(names.length >= 4, 'every cloud provider has its emulator');
    for (const emulator of EMULATORS) {
      const module = await emulator.load();
      assert.equal(module.service, emulator.name);
      assert.equal(typeof module.start, 'function');
    }
  });

  it("each provider's docs page shows the options table generated from its schema", () => {
    for (const p of PROVIDER_REGISTRY) {
      const file = `${root}/${p.docs}`;
      assert.ok(existsSync(file), `${p.docs} is missing`);
      const page = readFileSync(file, 'utf8');
      assert.ok(page.includes(OPTIONS_TABLE_MARKERS.begin), `${p.docs} has no options-table markers`);
      assert.equal(
        replaceOptionsTable(page, renderOptionsTable(p.options)),
        page,
        `${p.docs}: the options table differs from the schema; run npm run docs:options`,
      );
    }
  });
});
