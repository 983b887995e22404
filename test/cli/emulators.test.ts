import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { createStorageProvider, type StorageConfig } from '../../src/core/factory.js';
import { CLI, cliEnv, nebula, tempHome } from './helpers.js';

interface Started {
  child: ChildProcess;
  info: { service: string; config: Record<string, unknown> };
  exited: Promise<number | null>;
}

async function startEmulator(service: string, home: string): Promise<Started> {
  const child = spawn(process.execPath, [CLI, 'emulator', service], {
    env: cliEnv(home),
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

describe('nebula-credential emulator', () => {
  it('an unknown service is a usage error naming the services', async () => {
    const { home, cleanup } = await tempHome();
    try {
      const r = await nebula(['emulator', 'ibm'], { home });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /aws, azure, vault, kubernetes, gcp/);
      assert.equal((await nebula(['emulator'], { home })).status, 2);
      assert.equal((await nebula(['emulator', 'vault', '--port', 'x'], { home })).status, 2);
    } finally {
      await cleanup();
    }
  });

  for (const service of ['aws', 'azure', 'vault', 'kubernetes']) {
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
