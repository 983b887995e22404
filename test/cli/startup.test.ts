import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { nebula, tempHome } from './helpers.js';

const CLOUD_PACKAGES = /\/node_modules\/(@aws-sdk|@smithy|@azure|@kubernetes|@opentelemetry)\//;

// A module.register() resolve hook that appends every resolved URL to a file: works on Node 20 and 24,
// and sees dynamic imports too, which is where a cloud SDK would come in.
const HOOKS = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.NEBULA_TEST_LOAD_LOG, result.url + '\\n');
  return result;
}
`;

describe('nebula-credential start-up', () => {
  it('the local path (init, put, get, list) loads no cloud SDK', async () => {
    const { home, cleanup } = await tempHome();
    try {
      const hooks = join(home, 'hooks.mjs');
      const register = join(home, 'register.mjs');
      const log = join(home, 'loads.log');
      await writeFile(hooks, HOOKS);
      await writeFile(
        register,
        `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
      );
      const options = {
        home,
        nodeArgs: ['--import', pathToFileURL(register).href],
        env: { NEBULA_TEST_LOAD_LOG: log },
      };
      assert.equal((await nebula(['init'], options)).status, 0);
      assert.equal((await nebula(['put', 'k', '--tag', 'a=b'], { ...options, input: 'v' })).status, 0);
      const get = await nebula(['get', 'k'], options);
      assert.equal(get.stdout, 'v');
      assert.equal((await nebula(['list', '--tag', 'a=b'], options)).stdout, 'k\n');
      const loaded = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
      assert.ok(
        loaded.some((u) => u.endsWith('/providers/local.js')),
        'the hook saw the local provider load',
      );
      assert.deepEqual(
        loaded.filter((u) => CLOUD_PACKAGES.test(u)),
        [],
      );
      assert.deepEqual(
        loaded.filter(
          (u) =>
            /\/(aws-secrets-manager|azure-key-vault|hashicorp-vault|kubernetes-secrets|emulators\/\w+|copy|init)\.js$/.test(
              u,
            ) && !u.includes('commands/init.js'),
        ),
        [],
        'no other provider module, emulator or copy code on the local path',
      );
    } finally {
      await cleanup();
    }
  });
});
