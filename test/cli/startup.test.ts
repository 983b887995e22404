import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CLI, cliEnv, nebula, tempHome } from './helpers.js';

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

// `get` writes the value with write(2) when standard output is a pipe, a socket or a file (see io.ts): the
// value must arrive whole whatever the reader does.
describe('nebula-credential get: standard output', () => {
  const big = 'x'.repeat(300_000); // more than a pipe holds: the reader has to drain it
  const setUp = async () => {
    const { home, cleanup } = await tempHome();
    assert.equal((await nebula(['init'], { home })).status, 0);
    assert.equal((await nebula(['put', 'big'], { home, input: big })).status, 0);
    return { home, cleanup };
  };
  const run = (home: string, shell: string) =>
    spawnSync('bash', ['-c', `set -o pipefail; ${shell}`], {
      env: cliEnv(home),
      cwd: home,
      encoding: 'utf8',
      maxBuffer: 1 << 22,
    });

  it('a socket (spawn), a shell pipe and a file each get the whole value', async () => {
    const { home, cleanup } = await setUp();
    try {
      assert.equal((await nebula(['get', 'big'], { home })).stdout, big);
      const cli = JSON.stringify(CLI);
      const piped = run(home, `${JSON.stringify(process.execPath)} ${cli} get big | cat`);
      assert.equal(piped.status, 0, piped.stderr);
      assert.equal(piped.stdout, big);
      const file = join(home, 'out.txt');
      const toFile = run(
        home,
        `${JSON.stringify(process.execPath)} ${cli} get big > ${JSON.stringify(file)}`,
      );
      assert.equal(toFile.status, 0, toFile.stderr);
      assert.equal(await readFile(file, 'utf8'), big);
    } finally {
      await cleanup();
    }
  });

  it('a reader that stops early (head -c 4) is a quiet success, as before', async () => {
    const { home, cleanup } = await setUp();
    try {
      const r = run(home, `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} get big | head -c 4`);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'xxxx');
      assert.equal(r.stderr, '');
    } finally {
      await cleanup();
    }
  });

  it('a non-blocking pipe that fills up hands the rest to the stream, which waits for the reader', async () => {
    const { home, cleanup } = await setUp();
    try {
      // python3 makes the write end O_NONBLOCK and reads only after a pause, so write(2) meets EAGAIN.
      const script = [
        'import fcntl, os, subprocess, sys, time',
        'r, w = os.pipe()',
        'fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)',
        'p = subprocess.Popen(sys.argv[1:], stdout=w)',
        'os.close(w)',
        'time.sleep(0.3)',
        'data = b""',
        'while True:',
        '    chunk = os.read(r, 65536)',
        '    if not chunk: break',
        '    data += chunk',
        'sys.stdout.write(str(p.wait()) + " " + str(len(data)))',
      ].join('\n');
      const r = spawnSync('python3', ['-c', script, process.execPath, CLI, 'get', 'big'], {
        env: cliEnv(home),
        cwd: home,
        encoding: 'utf8',
      });
      if (r.error) return; // no python3 here: nothing to check with
      assert.equal(r.stdout, `0 ${big.length}`, r.stderr);
    } finally {
      await cleanup();
    }
  });
});
