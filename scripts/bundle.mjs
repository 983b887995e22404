#!/usr/bin/env node
// Joins the modules tsc wrote to dist/ into a few files: the public entry points, the core as one shared
// chunk, and lazily loaded chunks (providers, CLI commands, emulators). Node 20's ES module loader pays for
// every file it resolves, opens and reads, so twenty small core modules cost more at start-up than the
// code in them; one chunk keeps `import('nebula-credential')` and the CLI's start quick. Every entry shares
// the same chunks, so each class exists once (instanceof works across entry points). Type declarations
// stay where tsc wrote them.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { rollup } from 'rollup';

const dist = new URL('../dist/', import.meta.url).pathname;
// Each provider's module is an entry (its package subpath), as the provider registry lists them.
const { PROVIDER_REGISTRY } = await import(new URL('../dist/providers/registry.js', import.meta.url).href);
const entries = {
  index: 'index.js',
  ...Object.fromEntries(PROVIDER_REGISTRY.map((p) => [p.module, `${p.module}.js`])),
  'testing/index': 'testing/index.js',
  'cli/main': 'cli/main.js',
};

const bundle = await rollup({
  input: Object.fromEntries(Object.entries(entries).map(([name, file]) => [name, join(dist, file)])),
  // node: builtins, the optional SDKs and hash-wasm stay imports, loaded by Node as before.
  external: (id) => !id.startsWith('.') && !id.startsWith('/'),
  onwarn(warning, warn) {
    if (warning.code === 'CIRCULAR_DEPENDENCY') return;
    warn(warning);
  },
});
const { output } = await bundle.generate({
  format: 'es',
  chunkFileNames: 'chunks/[name]-[hash].js',
  // The registry imports every provider's options schema (small, and needed to validate a config), so
  // they and it are one chunk: a command's start resolves one file instead of eight.
  manualChunks: (id) => {
    const path = relative(dist, id);
    if (path.startsWith('core/')) return 'core';
    if (/^providers\/(registry|[a-z-]+-options)\.js$/.test(path)) return 'provider-options';
    return undefined;
  },
});
await bundle.close();

// Remove tsc's JavaScript (declarations stay), then write the bundle in its place.
const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
for (const file of walk(dist)) if (/\.js(\.map)?$/.test(file)) rmSync(file);
const { writeFileSync, mkdirSync } = await import('node:fs');
for (const item of output) {
  const path = join(dist, item.fileName);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, item.type === 'chunk' ? item.code : item.source, {
    mode: item.fileName === 'cli/main.js' ? 0o755 : 0o644,
  });
}
console.log(`bundled dist/: ${output.length} files`);
