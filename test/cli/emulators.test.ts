import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { createStorageProvider } from '../../src/providers/factory.js';
import { EMULATORS, type StorageConfig } from '../../src/providers/registry.js';
import { CLI, cliEnv, nebula, tempHome } from './helpers.js';

interface Started {
  child: ChildProcess;
  info: { service: string; config: Record<string, unknown>; [key: string]: unknown };
  exited: Promise<number | null>;
}

async function startEmulator(
  service: string,
  home: string,
  env: Record<string, string> = {},
): Promise<Started> {
  const child = spawn(process.execPath, [CLI, 'emulator', service], {
    env: cliEnv(home, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c) => {
    stderr += c;
  });
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    void exited.then((code) => reject(new Error(`emulator exited ${code}: ${stderr}`)));
  });
  return { child, info: JSON.parse(line), exited };
}

/** Runs the command with a guard: a process that does not exit within `limitMs` is killed and reported. */
function runGuarded(
  args: string[],
  env: NodeJS.ProcessEnv,
  limitMs = 20_000,
): Promise<{ status: number | null; stderr: string; hung: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    let hung = false;
    const guard = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(guard);
      resolve({ status, stderr, hung });
    });
  });
}

/** The temporary files the emulators leave in `dir` (their CA, kubeconfig and Vault CA directories). */
const leftovers = async (dir: string) => (await readdir(dir)).filter((n) => n.startsWith('nebula-'));

describe('nebula-credential emulator: busy ports and temporary files', () => {
  for (const service of ['aws', 'azure', 'vault', 'kubernetes']) {
    it(`${service}: a busy --port says the port is in use and exits non-zero, leaving no temp directory`, async () => {
      const { home, cleanup } = await tempHome();
      const tmp = await mkdtemp(join(tmpdir(), 'nebula-emu-tmp-'));
      const blocker = createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      const port = (blocker.address() as AddressInfo).port;
      try {
        const r = await runGuarded(
          ['emulator', service, '--port', String(port)],
          cliEnv(home, { TMPDIR: tmp }),
        );
        assert.equal(r.hung, false, `the ${service} emulator did not exit: ${r.stderr}`);
        assert.equal(r.status, EXIT_CODES.InvalidConfig, r.stderr);
        assert.match(r.stderr, new RegExp(`port ${port} .*in use`));
        assert.doesNotMatch(r.stderr, /unexpected/);
        assert.deepEqual(await leftovers(tmp), []);
      } finally {
        await new Promise((r) => blocker.close(r));
        await rm(tmp, { recursive: true, force: true });
        await cleanup();
      }
    });
  }

  for (const [service, signal] of [
    ['aws', 'SIGTERM'],
    ['azure', 'SIGTERM'],
    ['kubernetes', 'SIGTERM'],
    ['vault', 'SIGTERM'],
    ['aws', 'SIGINT'],
    ['kubernetes', 'SIGINT'],
  ] as const) {
    it(`${service}: ${signal} stops the emulator and removes its CA temp directory`, async () => {
      const { home, cleanup } = await tempHome();
      const tmp = await mkdtemp(join(tmpdir(), 'nebula-emu-tmp-'));
      try {
        const emulator = await startEmulator(service, home, { TMPDIR: tmp });
        const caCertPath = String(emulator.info['caCertPath']);
        assert.ok(caCertPath.startsWith(tmp), 'the CA is not in the temporary directory');
        assert.ok(existsSync(caCertPath));
        assert.notDeepEqual(await leftovers(tmp), []);
        emulator.child.kill(signal);
        assert.equal(await emulator.exited, 0, `the emulator did not stop cleanly on ${signal}`);
        assert.deepEqual(await leftovers(tmp), [], 'a temporary directory survived the emulator');
      } finally {
        await rm(tmp, { recursive: true, force: true });
        await cleanup();
      }
    });
  }

  it('stop() of every emulator the command starts removes the files it wrote (in process)', async () => {
    const loaders = {
      aws: async () => (await import('../../src/testing/emulators/aws.js')).cliEmulator,
      azure: async () => (await import('../../src/testing/emulators/azure.js')).cliEmulator,
      vault: async () => (await import('../../src/testing/emulators/vault.js')).cliEmulator,
      kubernetes: async () => (await import('../../src/testing/emulators/kubernetes.js')).cliEmulator,
    };
    for (const [service, load] of Object.entries(loaders)) {
      const running = await (await load()).start({ port: 0 });
      const files = ['caCertPath', 'kubeconfigPath']
        .map((k) => running.info[k])
        .filter((v): v is string => typeof v === 'string');
      assert.ok(files.length > 0 && files.every((f) => existsSync(f)), service);
      await running.stop();
      for (const f of files) assert.equal(existsSync(dirname(f)), false, `${service} left ${dirname(f)}`);
    }
  });
});

describe('nebula-credential emulator', () => {
  it('an unknown service is a usage error naming every service', async () => {
    const { home, cleanup } = await tempHome();
    try {
      const r = await nebula(['emulator', 'no-such-service'], { home });
      assert.equal(r.status, 2);
      assert.ok(r.stderr.includes(EMULATORS.map((e) => e.name).join(', ')), r.stderr);
      assert.equal((await nebula(['emulator'], { home })).status, 2);
      assert.equal((await nebula(['emulator', 'vault', '--port', 'x'], { home })).status, 2);
    } finally {
      await cleanup();
    }
  });

  for (const service of EMULATORS.map((e) => e.name)) {
    it(`${service}: the command set runs against the emulator, and copy from local survives an interruption`, async () => {
      const { home, cleanup } = await tempHome();
      const emulator = await startEmulator(service, home);
      try {
        assert.equal(emulator.info.service, service);
        assert.equal(typeof emulator.info.config['provider'], 'string');
        assert.equal((await nebula(['init'], { home })).status, 0);
        const remote = join(home, 'remote.json');
        await writeFile(
          remote,
          JSON.stringify({ ...emulator.info.config, encryption: { keyFile: '~/.nebula/key' } }),
        );
        const run = (args: string[], input?: string) =>
          nebula([...args, '--config', remote], { home, ...(input === undefined ? {} : { input }) });

        const secret = `emulated-${randomBytes(8).toString('hex')}`;
        assert.equal((await run(['put', 'api_key', '--tag', 'env=test'], secret)).status, 0);
        const debug = await run(['get', 'api_key', '--debug']);
        assert.equal(debug.stdout, secret);
        assert.ok(
          debug.stderr.length > 0 && !debug.stderr.includes(secret),
          'the debug log never shows the value',
        );
        assert.deepEqual(JSON.parse((await run(['list', '--tag', 'env=test', '--json'])).stdout), [
          'api_key',
        ]);
        const described = JSON.parse((await run(['describe', 'api_key', '--json'])).stdout);
        assert.deepEqual(described.metadata.tags, { env: 'test' });
        assert.equal((await run(['get', 'missing_one'])).status, EXIT_CODES.NotFound);
        assert.equal((await run(['delete', 'api_key'])).status, 0);
        assert.equal((await run(['exists', 'api_key'])).status, 1);

        // copy local -> emulator; a credential over the backend's size limit interrupts it mid-way.
        const probe = await createStorageProvider(emulator.info.config as unknown as StorageConfig);
        const limit = probe.capabilities.maxCredentialSize;
        await probe.close();
        const local = (id: string, value: string) =>
          nebula(['put', id, '--tag', 'copy=yes'], { home, input: value });
        for (const id of ['m1', 'm2', 'm4']) assert.equal((await local(id, `v-${id}`)).status, 0);
        const oversize = limit < 1024 * 1024 - 4096;
        if (oversize) assert.equal((await local('m3', 'x'.repeat(limit + 1))).status, 0);
        const copy = [
          'copy',
          '--from',
          '~/.nebula/config.json',
          '--to',
          remote,
          '--tag',
          'copy=yes',
          '--json',
        ];
        const first = await nebula(copy, { home });
        if (oversize) {
          assert.equal(first.status, EXIT_CODES.SizeLimitExceeded, first.stderr);
          const s = JSON.parse(first.stdout);
          assert.deepEqual([s.copied, s.failed.id, s.notAttempted], [['m1', 'm2'], 'm3', ['m4']]);
          assert.equal((await local('m3', 'v-m3')).status, 0);
          const second = JSON.parse((await nebula(copy, { home })).stdout);
          assert.deepEqual(
            [second.unchanged, second.copied],
            [
              ['m1', 'm2'],
              ['m3', 'm4'],
            ],
          );
        } else {
          assert.equal(first.status, 0, first.stderr);
          const again = JSON.parse((await nebula(copy, { home })).stdout);
          assert.deepEqual(again.unchanged, ['m1', 'm2', 'm4']);
        }
        assert.equal((await run(['get', 'm4'])).stdout, 'v-m4');
      } finally {
        emulator.child.kill('SIGTERM');
        assert.equal(await emulator.exited, 0, 'the emulator stops cleanly on SIGTERM');
        await cleanup();
      }
    });
  }
});
