import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cliEmulator } from '../../src/testing/emulators/aws.js';
import { cliEnv, nebula, ROOT, tempHome } from './helpers.js';

const SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';
const WARNING = /NodeVersionSupportWarning/;
const nodeMajor = Number(process.versions.node.split('.')[0]);

describe("the AWS SDK's Node-version warning", () => {
  it('is printed by the SDK itself on Node 20 when the switch is unset (the probe works)', (t) => {
    if (nodeMajor >= 22) {
      t.skip(`the SDK warns only below Node 22; this is Node ${process.versions.node}`);
      return;
    }
    const script =
      "const { SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');" +
      "new SecretsManagerClient({ region: 'us-east-1' });";
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, [SWITCH]: undefined },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, WARNING);
  });

  it('is never printed by the command, even with the switch unset in the environment', async () => {
    const { home, cleanup } = await tempHome();
    const emulator = await cliEmulator.start({});
    try {
      const config = join(home, 'aws.json');
      await writeFile(
        config,
        JSON.stringify({ ...emulator.info.config, encryption: { keyFile: '~/.nebula/key' } }),
      );
      const env = { [SWITCH]: undefined };
      assert.equal(cliEnv(home, env)[SWITCH], undefined);
      assert.equal((await nebula(['init'], { home, env })).status, 0);
      const put = await nebula(['put', 'aws_token', '--config', config], { home, env, input: 'value-1' });
      assert.equal(put.status, 0, put.stderr);
      const get = await nebula(['get', 'aws_token', '--config', config], { home, env });
      assert.equal(get.stdout, 'value-1');
      for (const r of [put, get]) assert.doesNotMatch(r.stderr, WARNING);
    } finally {
      await emulator.stop();
      await cleanup();
    }
  });
});
