import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GoogleAuth } from 'google-auth-library';
import { ManualClock } from '../../src/core/clock.js';
import { GcpSecretManagerEmulator } from '../../src/testing/emulators/gcp.js';
import { CLOUD_PLATFORM, grpcClient, rejection, restClient, routeToEmulator } from './gcp-helpers.js';

// google-auth-library's Application Default Credentials on "GCE": no key file, GCE_METADATA_HOST naming the
// emulator's metadata server. Its own file so the environment it sets (and gcp-metadata's once-per-process
// detection) touches no other test.

describe('GCP emulator: google-auth-library on the metadata server (GCE_METADATA_HOST)', () => {
  const clock = new ManualClock(Date.now());
  let e: GcpSecretManagerEmulator;
  const saved = { ...process.env };

  before(async () => {
    e = await new GcpSecretManagerEmulator({ clock, projectId: 'gce-project' }).start();
    e.seedSecret('on-gce', 'from the instance');
    delete process.env['GOOGLE_APPLICATION_CREDENTIALS'];
    delete process.env['GOOGLE_CLOUD_PROJECT'];
    delete process.env['GCLOUD_PROJECT'];
    delete process.env['CLOUDSDK_CONFIG'];
    // No gcloud application-default credentials file either: HOME is an empty directory.
    process.env['HOME'] = mkdtempSync(join(tmpdir(), 'nebula-gce-home-'));
    Object.assign(process.env, e.metadataEnvironment());
  });
  after(async () => {
    process.env = saved;
    await e?.stop();
  });

  // With no project id given, google-auth-library runs `gcloud config config-helper` when gcloud is on the
  // PATH (seconds, and gcloud then queries the metadata server itself): always give the project id.
  const adc = () => new GoogleAuth({ scopes: [CLOUD_PLATFORM], projectId: 'gce-project' });

  it('detects GCE and gets the instance token from the metadata server', async () => {
    const auth = adc();
    const client = await auth.getClient();
    assert.equal(client.constructor.name, 'Compute');
    assert.equal(await auth.getUniverseDomain(), 'googleapis.com');
    const { token } = await client.getAccessToken();
    assert.match(String(token), /^ya29\./);
    const paths = e.metadata.requests.map((r) => r.path);
    assert.ok(paths.includes('/computeMetadata/v1/instance'), 'the detection ping');
    assert.ok(paths.includes('/computeMetadata/v1/instance/service-accounts/default/token'));
    assert.ok(e.metadata.requests.every((r) => r.headers['metadata-flavor'] === 'Google'));
  });

  it('authenticates the SDK over gRPC and REST with the instance identity; the token expires on the emulator clock', async () => {
    const authClient = await adc().getClient();
    routeToEmulator(authClient, e);
    const viaGrpc = grpcClient(e, authClient);
    const viaRest = restClient(e, authClient);
    try {
      const name = 'projects/gce-project/secrets/on-gce/versions/latest';
      for (const c of [viaGrpc, viaRest]) {
        const [read] = await c.accessSecretVersion({ name });
        assert.equal(Buffer.from(read.payload!.data as Uint8Array).toString(), 'from the instance');
      }
      assert.ok(
        e.requests.slice(-2).every((r) => String(r.headers['authorization']).startsWith('Bearer ya29.')),
      );
      await clock.advance(3600_000);
      const expired = await rejection(viaGrpc.accessSecretVersion({ name }));
      assert.equal(
        expired['code'],
        16,
        'the library judges expiry by its own clock; the emulator by its own',
      );
      assert.equal(expired['reason'], 'ACCESS_TOKEN_EXPIRED');
    } finally {
      await viaGrpc.close();
      await viaRest.close();
    }
  });

  it('gcp-metadata retries a failing token request (503) three times before giving up', async () => {
    const client = await adc().getClient();
    const before = e.metadata.count((r) => r.path.endsWith('/token'));
    e.metadata.faults.add({
      action: { kind: 'status', status: 503, body: 'unavailable' },
      times: 4,
      match: (r) => r.path.endsWith('/token'),
    });
    await assert.rejects(client.getAccessToken());
    assert.equal(
      e.metadata.count((r) => r.path.endsWith('/token')) - before,
      4,
      'one request and three retries',
    );
  });
});
