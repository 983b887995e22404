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

// The core modules that reach Node's network builtins or node:stream (directly, or through other core
// modules) form a chunk of their own: evaluating `process.getBuiltinModule('node:https')` at a chunk's top
// loads tls, net, http and the streams (~7-10 ms on Node 26), which a local `get` never uses. Only the
// network providers import that chunk. node:child_process (the bounded process runner) builds net for its
// pipes, so it counts.
const NETWORK_BUILTIN = /^node:(http|https|http2|net|tls|zlib|dns|dgram|stream|child_process)$/;
const networkMemo = new Map();
function reachesNetwork(id, getModuleInfo) {
  if (networkMemo.has(id)) return networkMemo.get(id);
  networkMemo.set(id, false); // a cycle does not reach the network through itself
  const info = getModuleInfo(id);
  const reaches =
    info?.importedIds.some(
      (dep) =>
        NETWORK_BUILTIN.test(dep) ||
        (relative(dist, dep).startsWith('core/') && reachesNetwork(dep, getModuleInfo)),
    ) === true;
  networkMemo.set(id, reaches);
  return reaches;
}

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
  // Rollup repeats in each chunk the imports of the chunks it imports (`import 'node:util';`) so that a
  // browser fetches them sooner; Node gains nothing from it, and each repeated builtin import would be one
  // more ESM facade (see builtinImportsToGetBuiltinModule).
  hoistTransitiveImports: false,
  // Each file a command loads costs a resolve, a read and a compile-cache lookup (~0.3 ms on Node 26), so
  // what a `get` needs is a few larger chunks: the core with the registry and every provider's options
  // schema (small, and needed to validate a config), the CLI's runner, and the code of the credential
  // commands with the store it opens.
  manualChunks: (id, { getModuleInfo }) => {
    const path = relative(dist, id);
    if (path.startsWith('core/')) return reachesNetwork(id, getModuleInfo) ? 'core-network' : 'core';
    if (/^providers\/(registry|factory|[a-z-]+-options)\.js$/.test(path)) return 'core';
    if (/^cli\/(run|io|args|exit-codes|output)\.js$/.test(path)) return 'cli-run';
    if (/^cli\/(commands\/credentials|context|keys|config|prompt)\.js$/.test(path)) return 'cli-store';
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

// `import { open } from 'node:fs'` makes Node build the builtin's ESM facade, which reads every export and
// so runs every lazy getter: node:fs loads its streams, fs/promises and readline, node:util loads parseArgs,
// the streams and worker_threads, node:net the BlockList, node:crypto WebCrypto (~6 ms of a `get` on Node
// 26, ~10 ms on Node 20). process.getBuiltinModule (Node 20.16+, below our engines floor) hands over the
// CommonJS exports instead, so only what is destructured is touched.
const BUILTIN_IMPORT = /^import (?:(\{[^}]*\})|(\* as [\w$]+)|([\w$]+)) from '(node:[\w/]+)';$/gm;
function builtinImportsToGetBuiltinModule(code, fileName) {
  const out = code.replace(BUILTIN_IMPORT, (_line, named, namespace, defaultName, id) => {
    const get = `process.getBuiltinModule('${id}')`;
    if (named) return `const ${named.replace(/ as /g, ': ')} = ${get};`;
    return `const ${namespace ? namespace.slice(5) : defaultName} = ${get};`;
  });
  const left = /^import [^;]*'node:[^']*';$/m.exec(out);
  if (left) throw new Error(`${fileName}: cannot rewrite the builtin import ${left[0]}`);
  return out;
}

for (const item of output) {
  const path = join(dist, item.fileName);
  mkdirSync(join(path, '..'), { recursive: true });
  const code =
    item.type === 'chunk' ? builtinImportsToGetBuiltinModule(item.code, item.fileName) : item.source;
  writeFileSync(path, code, {
    mode: item.fileName === 'cli/main.js' ? 0o755 : 0o644,
  });
}
console.log(`bundled dist/: ${output.length} files`);
