import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { AzureKeyVaultEmulator } from '../../src/testing/emulators/azure.js';
import { runPythonJson } from './child-client.js';

// A second, independent client (Python's azure-keyvault-secrets and azure-identity, Debian's python3-azure)
// against the emulator: the emulator must serve Azure's clients, not only the one the provider uses.
const python = ['python3', '/usr/bin/python3'].find(
  (bin) => spawnSync(bin, ['-c', 'import azure.keyvault.secrets, azure.identity']).status === 0,
);
const skip = python
  ? false
  : 'no python3 with azure-keyvault-secrets and azure-identity (Debian: python3-azure)';

const SCRIPT = `
import os, sys, json
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
ca = os.environ["EMU_CA"]
client = SecretClient(os.environ["EMU_VAULT"], ManagedIdentityCredential(), verify_challenge_resource=False,
                      connection_verify=ca, retry_total=0)
out = {}
first = client.set_secret("py-secret", "one", tags={"lang": "python"}, content_type="text/plain")
client.set_secret("py-secret", "two")
out["latest"] = client.get_secret("py-secret").value
out["byVersion"] = client.get_secret("py-secret", first.properties.version).value
client.update_secret_properties("py-secret", first.properties.version, tags={"lang": "py"})
out["versions"] = len(list(client.list_properties_of_secret_versions("py-secret")))
for i in range(30):
    client.set_secret("py-page-%d" % i, "x")
out["listed"] = len(list(client.list_properties_of_secrets()))
client.begin_delete_secret("py-secret").wait()
out["deleted"] = client.get_deleted_secret("py-secret").name
client.begin_recover_deleted_secret("py-secret").wait()
out["recovered"] = client.get_secret("py-secret").value
client.begin_delete_secret("py-secret").wait()
client.purge_deleted_secret("py-secret")
try:
    client.get_secret("missing")
except Exception as e:
    out["missingStatus"] = getattr(e, "status_code", None)
print(json.dumps(out))
`;

// azure-identity 1.13.0b2 (Debian) names the option instance_discovery=False; later releases call it
// disable_instance_discovery=True.
const SP_SCRIPT = `
import os, json
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient
ca = os.environ["EMU_CA"]
cred = ClientSecretCredential(os.environ["EMU_TENANT"], os.environ["EMU_CLIENT"], os.environ["EMU_SECRET"],
                              authority=os.environ["EMU_AUTHORITY"], instance_discovery=False,
                              connection_verify=ca)
client = SecretClient(os.environ["EMU_VAULT"], cred, verify_challenge_resource=False, connection_verify=ca,
                      retry_total=0)
s = client.set_secret("sp-secret", "v")
print(json.dumps({"name": s.name, "value": client.get_secret("sp-secret").value}))
`;

describe('Azure Key Vault emulator: Python azure-keyvault-secrets client', { skip }, () => {
  let emulator: AzureKeyVaultEmulator;
  before(async () => {
    emulator = await new AzureKeyVaultEmulator({ tokenLifetimeSeconds: 600 }).start();
  });
  after(() => emulator?.stop());

  const runPython = (source: string, extraEnv: Record<string, string>) =>
    runPythonJson(python!, source, {
      EMU_VAULT: emulator.vaultUrl,
      EMU_CA: emulator.caCertPath,
      ...extraEnv,
    });

  it('sets, gets, versions, pages, deletes, recovers and purges through the Python SDK (managed identity)', async () => {
    const out = await runPython(SCRIPT, emulator.appServiceEnvironment());
    assert.deepEqual(out, {
      latest: 'two',
      byVersion: 'one',
      versions: 2,
      listed: 31,
      deleted: 'py-secret',
      recovered: 'two',
      missingStatus: 404,
    });
    assert.ok(emulator.identity.count((r) => r.path === '/msi/token') >= 1);
  });

  it('authenticates with a client secret against the Entra endpoints (Python MSAL)', async () => {
    const out = await runPython(SP_SCRIPT, {
      EMU_TENANT: emulator.tenantId,
      EMU_CLIENT: emulator.clientId,
      EMU_SECRET: emulator.clientSecret,
      EMU_AUTHORITY: emulator.authorityHost,
    });
    assert.deepEqual(out, { name: 'sp-secret', value: 'v' });
    assert.ok(emulator.vault.count((r) => r.path === `/${emulator.tenantId}/oauth2/v2.0/token`) >= 1);
  });
});
