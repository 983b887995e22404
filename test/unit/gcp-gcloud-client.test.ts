import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GcpSecretManagerEmulator } from '../../src/testing/emulators/gcp.js';
import { runClient } from './child-client.js';

// A third independent client: the Google Cloud CLI (`gcloud secrets`), which reads the key file's token_uri,
// talks to the REST API through its own apitools client and checks payload checksums on access. Skipped
// when gcloud is not installed. Each command takes a second or two to start, so this stays short.
const gcloud = spawnSync('gcloud', ['--version'], {
  encoding: 'utf8',
  env: { ...process.env, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' },
});
const skip = gcloud.status === 0 ? false : 'gcloud (Google Cloud CLI) is not installed';

describe('GCP Secret Manager emulator: the gcloud CLI', { skip }, () => {
  let emulator: GcpSecretManagerEmulator;
  let env: Record<string, string>;
  before(async () => {
    emulator = await new GcpSecretManagerEmulator({ projectId: 'gcloud-project' }).start();
    const config = mkdtempSync(join(tmpdir(), 'nebula-gcloud-'));
    env = {
      PATH: process.env['PATH'] ?? '',
      HOME: config,
      CLOUDSDK_CONFIG: config,
      CLOUDSDK_CORE_PROJECT: emulator.projectId,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: `${emulator.restEndpoint}/`,
      CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE: emulator.caCertPath,
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
      CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true',
      CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    };
  });
  after(() => emulator?.stop());

  const run = (args: string[], input?: string) => runClient('gcloud', args, env, input);

  it('activates the key file, creates, reads (checksum verified), filters and deletes', async () => {
    const activate = await run([
      'auth',
      'activate-service-account',
      `--key-file=${emulator.credentialsFile}`,
    ]);
    assert.equal(activate.code, 0, activate.stderr);
    const create = await run(
      [
        'secrets',
        'create',
        'cli-secret',
        '--data-file=-',
        '--replication-policy=automatic',
        '--labels=team=a',
      ],
      'from-gcloud',
    );
    assert.equal(create.code, 0, create.stderr);
    const access = await run(['secrets', 'versions', 'access', 'latest', '--secret=cli-secret']);
    assert.equal(access.code, 0, access.stderr);
    assert.equal(access.stdout, 'from-gcloud');
    const list = await run(['secrets', 'list', '--filter=labels.team=a', '--format=json']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      (JSON.parse(list.stdout) as { name: string }[]).map((s) => s.name),
      [`projects/${emulator.projectNumber}/secrets/cli-secret`],
    );
    const remove = await run(['secrets', 'delete', 'cli-secret']);
    assert.equal(remove.code, 0, remove.stderr);
    assert.deepEqual(emulator.secretIds(), []);
    assert.ok(emulator.rest.count((r) => r.path === '/token') >= 1, 'gcloud exchanged the key at token_uri');
    assert.deepEqual(
      [...new Set(emulator.requests.map((r) => r.rpc))],
      // `secrets delete` lists the versions first, for its confirmation prompt.
      [
        'CreateSecret',
        'AddSecretVersion',
        'AccessSecretVersion',
        'ListSecrets',
        'ListSecretVersions',
        'DeleteSecret',
      ],
    );
  });
});
