import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { ROOT } from '../cli/helpers.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types?: string }>;
};
const entries = Object.values(pkg.exports)
  .flatMap((e) => (typeof e === 'object' && e.types ? [resolve(ROOT, e.types)] : []))
  .filter((path) => path.endsWith('.d.ts'));
const built = entries.length > 0 && entries.every((path) => existsSync(path));

/**
 * What an application can import: every export of every entry point of the exports map, followed through
 * re-exports to its declaration in the built .d.ts files.
 */
let declarationsCache: { name: string; file: string; declaration: ts.Declaration }[] | undefined;
function publicDeclarations(): { name: string; file: string; declaration: ts.Declaration }[] {
  if (declarationsCache) return declarationsCache;
  const program = ts.createProgram(entries, {
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  });
  const checker = program.getTypeChecker();
  const found = new Map<ts.Declaration, { name: string; file: string; declaration: ts.Declaration }>();
  for (const entry of entries) {
    const source = program.getSourceFile(entry);
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    if (!moduleSymbol) continue;
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      for (const declaration of symbol.declarations ?? []) {
        const file = declaration.getSourceFile().fileName;
        if (!file.startsWith(join(ROOT, 'dist'))) continue;
        found.set(declaration, { name: exported.name, file: relative(ROOT, file), declaration });
      }
    }
  }
  declarationsCache = [...found.values()];
  return declarationsCache;
}

const hasDoc = (node: ts.Node) => ts.getJSDocCommentsAndTags(node).length > 0;

/** The comments of a declaration, for a variable those of its statement (`export declare const x`). */
const docsOf = (declaration: ts.Declaration) => {
  const host = ts.isVariableDeclaration(declaration) ? declaration.parent.parent : declaration;
  return ts.getJSDocCommentsAndTags(host).map((d) => d.getText());
};

/**
 * Every public member of every exported class (constructor, properties, accessors, methods; not private,
 * protected or #private) and every method of every exported interface, without a TSDoc comment.
 */
function undocumentedMembers(): { counted: number; missing: string[] } {
  let counted = 0;
  const missing: string[] = [];
  for (const { name: owner, file, declaration } of publicDeclarations()) {
    const isClass = ts.isClassDeclaration(declaration);
    if (!isClass && !ts.isInterfaceDeclaration(declaration)) continue;
    const source = declaration.getSourceFile();
    for (const member of declaration.members) {
      if (ts.isIndexSignatureDeclaration(member)) continue;
      if (!isClass && !ts.isMethodSignature(member)) continue;
      const modifiers = ts.canHaveModifiers(member) ? (ts.getModifiers(member) ?? []) : [];
      if (
        modifiers.some(
          (m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword,
        )
      )
        continue;
      const name = member.name?.getText(source) ?? 'constructor';
      if (name === '#private' || (member.name && ts.isPrivateIdentifier(member.name))) continue;
      counted++;
      if (!hasDoc(member)) missing.push(`${file}: ${owner}.${name}`);
    }
  }
  return { counted, missing: [...new Set(missing)].sort() };
}

describe('TSDoc on the public surface (built .d.ts files)', () => {
  it('dist/ is built (run "npm run build")', () => {
    assert.ok(built, 'dist/ is missing: run "npm run build" before the tests (npm test does)');
  });

  it('every public class member and interface method has a TSDoc comment', { skip: !built }, () => {
    const { counted, missing } = undocumentedMembers();
    assert.ok(counted > 100, `only ${counted} public members found: is the walk of the exports map broken?`);
    assert.deepEqual(missing, [], `${missing.length} of ${counted} public members have no TSDoc`);
  });

  it('every exported class, function and constant has a runnable ts example', { skip: !built }, () => {
    const missing = publicDeclarations()
      .filter(
        ({ declaration }) =>
          ts.isClassDeclaration(declaration) ||
          ts.isFunctionDeclaration(declaration) ||
          ts.isVariableDeclaration(declaration),
      )
      .filter(({ declaration }) => !docsOf(declaration).some((d) => /@example[\s\S]*```ts/.test(d)))
      .map(({ file, name }) => `${file}: ${name}`);
    assert.deepEqual([...new Set(missing)].sort(), []);
  });
});

describe('public text carries no requirement ids', () => {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  const files = [
    ...walk(join(ROOT, 'src')),
    ...walk(join(ROOT, 'docs')),
    ...walk(join(ROOT, 'examples')),
    join(ROOT, 'README.md'),
    ...(existsSync(join(ROOT, 'dist')) ? walk(join(ROOT, 'dist')).filter((f) => f.endsWith('.d.ts')) : []),
  ];

  it('no FR-/SC-/SEC-/TC- or user-story ids in src, docs, examples, README or the .d.ts files', () => {
    const found = files.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/\b(?:(?:FR|SC|SEC|TC)-\d{3}|US\d+-\d+)\b/g)].map(
        (m) => `${relative(ROOT, file)}: ${m[0]}`,
      ),
    );
    assert.deepEqual(found, []);
  });

  it('every import of the package in examples and docs names a path the exports map has', () => {
    const subpaths = new Set(
      Object.keys(pkg.exports).map((k) =>
        k === '.' ? 'nebula-credential' : `nebula-credential/${k.slice(2)}`,
      ),
    );
    const wrong = files.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/from '(nebula-credential(?:\/[^']*)?)'/g)]
        .filter((m) => !subpaths.has(m[1]!))
        .map((m) => `${relative(ROOT, file)}: ${m[1]}`),
    );
    assert.deepEqual(wrong, []);
  });
});
