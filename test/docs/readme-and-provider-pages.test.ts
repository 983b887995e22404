import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ProviderCapabilities, StorageProvider } from '../../src/core/provider.js';
import { AwsSecretsManagerProvider } from '../../src/providers/aws-secrets-manager.js';
import { AZURE_CREDENTIAL_TYPES, AzureKeyVaultProvider } from '../../src/providers/azure-key-vault.js';
import { GcpSecretManagerProvider } from '../../src/providers/gcp-secret-manager.js';
import { HashiCorpVaultProvider } from '../../src/providers/hashicorp-vault.js';
import { KubernetesSecretsProvider } from '../../src/providers/kubernetes-secrets.js';
import { LocalStorageProvider } from '../../src/providers/local.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';
import { PROVIDER_NAMES } from '../../src/providers/registry.js';
import { ROOT } from '../cli/helpers.js';

/** Builds each provider with the options given (constructors do no I/O), to read its capabilities. */
const BUILD: Record<string, (options?: Record<string, unknown>) => StorageProvider> = {
  memory: (o) => new MemoryStorageProvider({ ...o }),
  local: (o) => new LocalStorageProvider({ directory: '/nonexistent/nebula-docs-test', ...o }),
  'aws-secrets-manager': (o) => new AwsSecretsManagerProvider({ region: 'eu-west-1', ...o }),
  'azure-key-vault': (o) =>
    new AzureKeyVaultProvider({ vaultUrl: 'https://docs-test.vault.azure.net', ...o } as never),
  'hashicorp-vault': (o) =>
    new HashiCorpVaultProvider({
      address: 'https://vault.example:8200',
      auth: { token: 't' },
      ...o,
    } as never),
  kubernetes: (o) => new KubernetesSecretsProvider({ namespace: 'docs', ...o }),
  'gcp-secret-manager': (o) => new GcpSecretManagerProvider({ projectId: 'docs-test', ...o } as never),
};

const capabilities = (name: string, options?: Record<string, unknown>): ProviderCapabilities => {
  const build = BUILD[name];
  assert.ok(build, `no builder for provider ${name}`);
  return build(options).capabilities;
};

const KiB = 1024;
const MiB = 1024 * KiB;

/** How the README states a size: exact KiB or MiB, else "about N KiB". */
function readmeSize(bytes: number): string {
  if (bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `about ${Math.floor(bytes / KiB)} KiB`;
}

/** The forms a provider page may state a size in: "46,080 bytes", "1 MiB", "756 KiB". */
function pageSizes(bytes: number): string[] {
  const forms = [`${bytes.toLocaleString('en-US')} bytes`];
  if (bytes % MiB === 0) forms.push(`${bytes / MiB} MiB`);
  if (bytes % KiB === 0) forms.push(`${bytes / KiB} KiB`);
  return forms;
}

function table(markdown: string, header: RegExp): Record<string, string>[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => header.test(l));
  assert.ok(start >= 0, `no table with header ${header}`);
  const cells = (line: string) =>
    line
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
  const names = cells(lines[start]!);
  const rows: Record<string, string>[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const values = cells(line);
    rows.push(Object.fromEntries(names.map((n, i) => [n, values[i] ?? ''])));
  }
  return rows;
}

const AZURE_CREDENTIAL_OPTIONS: Record<(typeof AZURE_CREDENTIAL_TYPES)[number], Record<string, string>> = {
  'managed-identity': {},
  'client-secret': { tenantId: 't', clientId: 'c', clientSecret: 's' },
  'client-certificate': { tenantId: 't', clientId: 'c', certificatePath: '/c.pem' },
  'workload-identity': { tenantId: 't', clientId: 'c', tokenFilePath: '/t' },
  developer: { tenantId: 't' },
};

/**
 * The authentication each provider's options accept, and the words the README's auth column must use for
 * each. Every option named here is passed to the constructor first, so a rename in the code fails here too.
 */
const AUTH: Record<string, { options: Record<string, unknown>; words: RegExp }[]> = {
  'aws-secrets-manager': [
    { options: {}, words: /default chain/i },
    { options: { profile: 'ops' }, words: /`profile`/ },
    { options: { credentials: { accessKeyId: 'AKIA0', secretAccessKey: 's' } }, words: /explicit keys/ },
  ],
  'azure-key-vault': AZURE_CREDENTIAL_TYPES.map((type) => ({
    options: { credential: { type, ...AZURE_CREDENTIAL_OPTIONS[type] } },
    words: new RegExp(type === 'developer' ? 'developer tools' : type.replace('-', ' '), 'i'),
  })),
  'hashicorp-vault': [
    { options: { auth: { token: 't' } }, words: /\btoken\b/ },
    { options: { auth: { appRole: { roleId: 'r', secretId: 's' } } }, words: /\bAppRole\b/ },
  ],
  kubernetes: [
    { options: { inCluster: true }, words: /in-cluster service account/ },
    { options: { inCluster: false, kubeconfigPath: '/k' }, words: /kubeconfig/ },
  ],
  'gcp-secret-manager': [
    { options: {}, words: /Application Default Credentials/ },
    { options: { credentialsFile: '/k.json' }, words: /key file/ },
    { options: { credentials: { type: 'service_account' } }, words: /explicit key/ },
  ],
  local: [],
  memory: [],
};

describe('README provider table matches the code', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const rows = table(readme, /^\| provider +\| `provider:`/);
  const byName = new Map(rows.map((r) => [r['`provider:`']!.replace(/`/g, ''), r]));

  it('has one row per provider', () => {
    assert.deepEqual([...byName.keys()].sort(), [...PROVIDER_NAMES].sort());
  });

  for (const name of PROVIDER_NAMES) {
    it(`${name}: largest value, soft delete, versioning and auth`, () => {
      const row = byName.get(name);
      assert.ok(row, `no README row for ${name}`);
      const caps = capabilities(name);
      assert.ok(
        row['largest value']!.startsWith(readmeSize(caps.maxCredentialSize)),
        `${name}: README says "${row['largest value']}", the code ${caps.maxCredentialSize} bytes (${readmeSize(caps.maxCredentialSize)})`,
      );
      assert.equal(row.versioning === 'no', !caps.versioning, `${name} versioning: "${row.versioning}"`);
      const soft = row['soft delete']!;
      const optional = /^optional \(`(\w+): '(\w+)'`\)/.exec(soft);
      if (optional) {
        assert.equal(caps.softDelete, false, `${name}: soft delete is on by default`);
        const enabled = capabilities(name, { [optional[1]!]: optional[2] });
        assert.equal(
          enabled.softDelete,
          true,
          `${name}: ${optional[1]}: '${optional[2]}' turns soft delete on`,
        );
      } else {
        assert.equal(soft === 'no', !caps.softDelete, `${name} soft delete: "${soft}"`);
      }
      for (const { options, words } of AUTH[name] ?? []) {
        assert.doesNotThrow(() => BUILD[name]!(options), `${name} accepts ${JSON.stringify(options)}`);
        assert.match(row.auth!, words, `${name}: the README's auth column lacks ${words}`);
      }
    });
  }
});

describe('each provider page states the limits the code enforces', () => {
  const pages: Record<string, string> = {
    local: 'local.md',
    'aws-secrets-manager': 'aws-secrets-manager.md',
    'azure-key-vault': 'azure-key-vault.md',
    'hashicorp-vault': 'hashicorp-vault.md',
    kubernetes: 'kubernetes-secrets.md',
    'gcp-secret-manager': 'gcp-secret-manager.md',
  };
  // The prefix takes room from the id in backends with short names: the page states the name limit, the
  // id limit plus the prefix.
  const prefixed: Record<string, { options: Record<string, unknown>; length: number }> = {
    'azure-key-vault': { options: { prefix: 'p' }, length: 1 },
    kubernetes: { options: { prefix: 'p' }, length: 1 },
    'gcp-secret-manager': { options: { prefix: 'p' }, length: 1 },
  };

  for (const [name, file] of Object.entries(pages)) {
    it(`${file}: ## Limits has the largest value, the id length and the tag count`, () => {
      const text = readFileSync(join(ROOT, 'docs', 'providers', file), 'utf8');
      const start = text.indexOf('\n## Limits\n');
      assert.ok(start >= 0, `${file} has no "## Limits" section`);
      const next = text.indexOf('\n## ', start + 1);
      const limits = text.slice(start, next < 0 ? undefined : next);
      const caps = capabilities(name, prefixed[name]?.options);
      const idLimit = caps.maxIdBytes + (prefixed[name]?.length ?? 0);
      assert.ok(
        pageSizes(caps.maxCredentialSize).some((form) => limits.includes(form)),
        `${file} does not state the largest ciphertext, ${pageSizes(caps.maxCredentialSize).join(' or ')}`,
      );
      const lines = limits.split('\n');
      assert.ok(
        lines.some((l) => /\b(id|ids|name)\b/i.test(l) && new RegExp(`\\b${idLimit}\\b`).test(l)),
        `${file} does not state the id (or name) limit ${idLimit}`,
      );
      if (caps.maxTags !== undefined) {
        assert.ok(
          lines.some((l) => /\btags?\b/i.test(l) && new RegExp(`\\b${caps.maxTags}\\b`).test(l)),
          `${file} does not state the tag limit ${caps.maxTags}`,
        );
      }
    });
  }
});
