import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { crc32c } from '../../src/core/crc32c.js';
import { GcpSecretManagerEmulator } from '../../src/testing/emulators/gcp.js';
import { runPythonJson } from './child-client.js';

// A second, independent client: Python's google-auth (Debian's python3-google-auth, with its own JWT
// signing and its own reading of the key file's token_uri) and requests, calling the REST API as the
// public reference describes it.
const python = ['python3', '/usr/bin/python3'].find(
  (bin) => spawnSync(bin, ['-c', 'import google.auth, google.oauth2.service_account, requests']).status === 0,
);
const skip = python
  ? false
  : 'no python3 with google-auth and requests (Debian: python3-google-auth python3-requests)';

const SERVICE_ACCOUNT_SCRIPT = `
import os, json, base64
from google.oauth2 import service_account
from google.auth.transport.requests import AuthorizedSession
base = os.environ["EMU_REST"] + "/v1/projects/" + os.environ["EMU_PROJECT"]
creds = service_account.Credentials.from_service_account_file(
    os.environ["EMU_KEY"], scopes=["https://www.googleapis.com/auth/cloud-platform"])
s = AuthorizedSession(creds)
out = {}
r = s.post(base + "/secrets", params={"secretId": "py-secret"},
           json={"replication": {"automatic": {}}, "labels": {"lang": "python"}})
out["create"] = r.status_code
secret = r.json()
payload = os.environ["EMU_PAYLOAD"].encode()
r = s.post(base + "/secrets/py-secret:addVersion",
           json={"payload": {"data": base64.b64encode(payload).decode(), "dataCrc32c": os.environ["EMU_CRC"]}})
out["add"] = [r.status_code, r.json()["name"].split("/")[-1], r.json().get("clientSpecifiedPayloadChecksum")]
r = s.get(base + "/secrets/py-secret/versions/latest:access")
body = r.json()
out["access"] = [base64.b64decode(body["payload"]["data"]).decode(), body["payload"]["dataCrc32c"]]
r = s.patch(base + "/secrets/py-secret", params={"updateMask": "labels"}, json={"labels": {"lang": "py3"}})
out["labels"] = r.json()["labels"]
for i in range(3):
    s.post(base + "/secrets", params={"secretId": "py-page-%d" % i},
           json={"replication": {"automatic": {}}, "labels": {"paged": "yes"}})
names, token, pages = [], None, 0
while True:
    params = {"pageSize": 2, "filter": "labels.paged=yes"}
    if token: params["pageToken"] = token
    page = s.get(base + "/secrets", params=params).json()
    names += [x["name"].split("/")[-1] for x in page.get("secrets", [])]
    pages += 1
    token = page.get("nextPageToken")
    if not token: break
out["paged"] = [names, pages]
s.post(base + "/secrets/py-secret/versions/1:disable", json={})
r = s.get(base + "/secrets/py-secret/versions/1:access")
out["disabled"] = [r.status_code, r.json()["error"]["status"]]
r = s.get(base + "/secrets/nope")
out["missing"] = [r.status_code, r.json()["error"]["status"]]
r = s.delete(base + "/secrets/py-secret", params={"etag": "\\"stale\\""})
out["staleDelete"] = r.status_code
r = s.delete(base + "/secrets/py-secret", params={"etag": s.get(base + "/secrets/py-secret").json()["etag"]})
out["delete"] = r.status_code
print(json.dumps(out))
`;

const COMPUTE_SCRIPT = `
import os, json
import google.auth.compute_engine
from google.auth.transport.requests import AuthorizedSession
s = AuthorizedSession(google.auth.compute_engine.Credentials())
r = s.get(os.environ["EMU_REST"] + "/v1/projects/" + os.environ["EMU_PROJECT"] + "/secrets/from-node/versions/latest:access")
print(json.dumps({"status": r.status_code, "name": r.json().get("name")}))
`;

describe('GCP Secret Manager emulator: Python google-auth and requests', { skip }, () => {
  let emulator: GcpSecretManagerEmulator;
  before(async () => {
    emulator = await new GcpSecretManagerEmulator({ projectId: 'py-project' }).start();
  });
  after(() => emulator?.stop());

  const runPython = (source: string, extraEnv: Record<string, string> = {}) =>
    runPythonJson(python!, source, {
      // requests trusts this bundle in every session, google-auth's token session included.
      REQUESTS_CA_BUNDLE: emulator.caCertPath,
      EMU_REST: emulator.restEndpoint,
      EMU_PROJECT: emulator.projectId,
      ...extraEnv,
    });

  it('uses the key file token_uri (JWT-bearer grant) and the REST API: create, add, access, patch, page, disable, delete', async () => {
    const payload = 'python-payload';
    const out = await runPython(SERVICE_ACCOUNT_SCRIPT, {
      EMU_KEY: emulator.credentialsFile,
      EMU_PAYLOAD: payload,
      EMU_CRC: String(crc32c(Buffer.from(payload))),
    });
    assert.deepEqual(out, {
      create: 200,
      add: [200, '1', true],
      access: [payload, String(crc32c(Buffer.from(payload)))],
      labels: { lang: 'py3' },
      paged: [['py-page-0', 'py-page-1', 'py-page-2'], 2],
      disabled: [400, 'FAILED_PRECONDITION'],
      missing: [404, 'NOT_FOUND'],
      staleDelete: 400,
      delete: 200,
    });
    assert.ok(
      emulator.rest.count((r) => r.path === '/token') >= 1,
      'python-google-auth called the token_uri',
    );
    assert.ok(emulator.requests.every((r) => String(r.headers['authorization']).startsWith('Bearer ya29.')));
  });

  it('authenticates on the metadata server (GCE_METADATA_ROOT / GCE_METADATA_IP)', async () => {
    emulator.seedSecret('from-node', 'seeded');
    const out = await runPython(COMPUTE_SCRIPT, emulator.metadataEnvironment());
    assert.deepEqual(out, {
      status: 200,
      name: `projects/${emulator.projectNumber}/secrets/from-node/versions/1`,
    });
    assert.ok(emulator.metadata.count((r) => r.path.endsWith('/token')) >= 1);
  });
});
