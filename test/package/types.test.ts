import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import ts from 'typescript';
import {
  PACKAGE,
  PEER_SDKS,
  packTarball,
  ROOT,
  readmeExample,
  SUBPATH_SPECIFIERS,
  slowPackageTestsSkipped,
  unpackInto,
} from './packed.js';

const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function declarationFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return declarationFiles(path);
    return name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The package a bare specifier names (`@scope/name/sub` -> `@scope/name`); undefined for relative paths. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

describe('published type declarations', () => {
  it('import nothing but Node built-ins, the package itself and its dependencies (no optional SDK)', () => {
    const allowed = new Set([PACKAGE.name, ...Object.keys(PACKAGE.dependencies)]);
    const builtins = new Set(builtinModules);
    const files = declarationFiles(join(ROOT, 'dist'));
    assert.ok(files.length > 10, 'dist/ has no declarations: run "npm run build" first');
    const offending: string[] = [];
    for (const file of files) {
      // TypeScript's own scanner: import/export declarations, import() types, /// references; not comments.
      const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
      const specifiers = [
        ...info.importedFiles.map((f) => f.fileName),
        ...info.typeReferenceDirectives.map((f) => f.fileName),
      ];
      for (const specifier of specifiers) {
        const name = packageOf(specifier);
        if (name === undefined || specifier.startsWith('node:') || builtins.has(specifier)) continue;
        if (name === '@types/node' || name === 'node') continue;
        if (!allowed.has(name)) offending.push(`${relative(ROOT, file)} imports ${specifier}`);
      }
    }
    assert.deepEqual(
      offending,
      [],
      'declare a structural type, or mark an SDK-typed internal helper @internal (stripInternal removes it)',
    );
  });
});

// An application type-checks the README's example and an import of every subpath against the packed
// tarball, skipLibCheck off, as an ES module and as CommonJS under module nodenext, and under
// moduleResolution bundler; once with no SDK installed and once with every SDK (plus code that hands an SDK
// object to a provider). Errors inside an SDK's own declarations are the SDK's and only reported.
describe('an application type-checks against the packed tarball', { skip: slowPackageTestsSkipped }, () => {
  const tarball = slowPackageTestsSkipped ? '' : packTarball();
  const made: string[] = [];
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
    if (tarball) rmSync(dirname(tarball), { recursive: true, force: true });
  });
  const example = readmeExample();
  const subpathImports = SUBPATH_SPECIFIERS.map((s, i) => `import * as subpath${i} from '${s}';`);
  const subpathUse = `export const subpaths = [${SUBPATH_SPECIFIERS.map((_, i) => `subpath${i}`).join(', ')}];`;
  const sdkImports = PEER_SDKS.map((s, i) => `import * as sdk${i} from '${s}';`);
  const sdkUse = [
    `export const sdks = [${PEER_SDKS.map((_, i) => `sdk${i}`).join(', ')}];`,
    "import { DefaultAzureCredential } from '@azure/identity';",
    "import { AzureKeyVaultProvider } from 'nebula-credential/azure';",
    'export const azure = new AzureKeyVaultProvider({',
    "  vaultUrl: 'https://example.vault.azure.net',",
    '  credential: new DefaultAzureCredential(),',
    '});',
  ];

  function source(format: 'esm' | 'cjs', withSdks: boolean): string {
    const head = [...example.imports, ...subpathImports, ...(withSdks ? sdkImports : [])];
    const tail = [subpathUse, ...(withSdks ? sdkUse : [])];
    // CommonJS has no top-level await: the example becomes a function body.
    const body =
      format === 'esm'
        ? example.body
        : ['export async function main(): Promise<void> {', ...example.body, '}'];
    return `${[...head, ...body, ...tail].join('\n')}\n`;
  }

  function app(withSdks: boolean): string {
    const dir = mkdtempSync(join(tmpdir(), `nebula-types-${withSdks ? 'sdks' : 'bare'}-`));
    made.push(dir);
    unpackInto(tarball, dir);
    const linked = [...Object.keys(PACKAGE.dependencies), '@types/node', ...(withSdks ? PEER_SDKS : [])];
    for (const name of linked) {
      const target = join(dir, 'node_modules', name);
      mkdirSync(dirname(target), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', name), target, 'dir');
    }
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
    writeFileSync(join(dir, 'app.mts'), source('esm', withSdks));
    writeFileSync(join(dir, 'app.cts'), source('cjs', withSdks));
    writeFileSync(join(dir, 'bundled.ts'), source('esm', withSdks));
    const strict = {
      target: 'es2022',
      strict: true,
      exactOptionalPropertyTypes: true,
      skipLibCheck: false,
      noEmit: true,
      types: ['node'],
    };
    const configs = {
      'esm-nodenext': { module: 'nodenext', file: 'app.mts' },
      'cjs-nodenext': { module: 'nodenext', file: 'app.cts' },
      'esm-bundler': { module: 'esnext', moduleResolution: 'bundler', file: 'bundled.ts' },
    };
    for (const [name, { file, ...options }] of Object.entries(configs)) {
      writeFileSync(
        join(dir, `tsconfig.${name}.json`),
        JSON.stringify({ compilerOptions: { ...strict, ...options }, files: [file] }),
      );
    }
    return dir;
  }

  /** Runs tsc; returns the errors that are ours (app or package) and those inside an SDK's declarations. */
  async function typeCheck(dir: string, config: string): Promise<{ ours: string[]; sdks: string[] }> {
    const r = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve, reject) => {
      const args = [TSC, '-p', `tsconfig.${config}.json`, '--pretty', 'false'];
      execFile(process.execPath, args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') reject(error);
        else resolve({ status: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      });
    });
    const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l) && !l.startsWith(' '));
    const inSdk = (line: string) =>
      /node_modules\//.test(line) && !line.includes(`node_modules/${PACKAGE.name}/`);
    const ours = errors.filter((l) => !inSdk(l));
    if (r.status !== 0 && errors.length === 0) ours.push(`tsc exited ${r.status}: ${r.stdout}${r.stderr}`);
    return { ours, sdks: errors.filter(inSdk) };
  }

  for (const withSdks of [false, true]) {
    it(
      withSdks ? `with every SDK installed (${PEER_SDKS.join(', ')})` : 'with no SDK installed',
      async (t) => {
        const dir = app(withSdks);
        const configs = ['esm-nodenext', 'cjs-nodenext', 'esm-bundler'];
        const results = await Promise.all(configs.map((config) => typeCheck(dir, config)));
        configs.forEach((config, i) => {
          const { ours, sdks } = results[i]!;
          assert.deepEqual(ours, [], `${config}: type errors in the application or the package`);
          if (sdks.length > 0)
            t.diagnostic(`${config}: errors inside SDK declarations (not ours): ${sdks.join('; ')}`);
        });
      },
    );
  }
});
