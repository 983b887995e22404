import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { COMMAND_OPTIONS } from '../../src/cli/args.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { nebula, ROOT, tempHome } from './helpers.js';

const SENTINEL = 'SENTINEL-value-9c41d2e8-never-printed';

describe('nebula-credential end to end (local provider, temporary HOME)', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  const run = (args: string[], input?: string | Buffer, env?: Record<string, string>) =>
    nebula(args, { home, ...(input === undefined ? {} : { input }), ...(env ? { env } : {}) });

  before(async () => {
    ({ home, cleanup } = await tempHome());
    const r = await run(['init']);
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => cleanup());

  it('init creates ~/.nebula (0700), the credentials directory (0700), a 0600 key and config.json', async () => {
    const root = join(home, '.nebula');
    assert.equal((await stat(root)).mode & 0o777, 0o700);
    assert.equal((await stat(join(root, 'credentials'))).mode & 0o777, 0o700);
    const key = await stat(join(root, 'key'));
    assert.equal(key.mode & 0o777, 0o600);
    assert.match(readFileSync(join(root, 'key'), 'utf8'), /^[0-9a-f]{64}\n$/);
    const config = JSON.parse(readFileSync(join(root, 'config.json'), 'utf8'));
    assert.deepEqual(config, {
      provider: 'local',
      directory: '~/.nebula/credentials',
      encryption: { keyFile: '~/.nebula/key' },
    });
    const again = await run(['init']);
    assert.equal(again.status, 0);
    assert.match(again.stdout, /Already initialised/);
    assert.equal(readFileSync(join(root, 'key'), 'utf8').length, 65);
  });

  it('put reads standard input (one trailing newline dropped), get prints exactly the value', async () => {
    const put = await run(
      ['put', 'github_token', '--tag', 'team=platform', '--tag', 'env=prod'],
      `${SENTINEL}\n`,
    );
    assert.equal(put.status, 0, put.stderr);
    assert.match(put.stderr, /stored "github_token"/);
    const get = await run(['get', 'github_token']);
    assert.equal(get.status, 0, get.stderr);
    assert.equal(get.stdout, SENTINEL);
    assert.equal(get.stderr, '');
  });

  it('put --from-file stores the file byte for byte (binary and trailing newline kept)', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 10]);
    await writeFile(join(home, 'blob.bin'), bytes);
    assert.equal((await run(['put', 'blob', '--from-file', join(home, 'blob.bin')])).status, 0);
    const get = await run(['get', 'blob']);
    assert.deepEqual(get.stdoutBytes, bytes);
  });

  it('get --json has id, provider, metadata (ISO dates, tags, rotation) and value', async () => {
    assert.equal((await run(['put', 'rotated', '--rotation-days', '90'], 'r-value')).status, 0);
    const r = await run(['get', 'rotated', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(json).sort(), ['id', 'metadata', 'provider', 'value']);
    assert.equal(json.id, 'rotated');
    assert.equal(json.provider, 'local');
    assert.equal(json.value, 'r-value');
    assert.deepEqual(json.metadata.rotationPolicy, { intervalDays: 90 });
    assert.deepEqual(json.metadata.tags, {});
    assert.match(json.metadata.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('put of a new value keeps the tags, rotation interval and creation time unless given (the overwrite rule)', async () => {
    const describe = async () => JSON.parse((await run(['describe', 'rule', '--json'])).stdout).metadata;
    assert.equal((await run(['put', 'rule', '--tag', 'team=a', '--rotation-days', '30'], 'one')).status, 0);
    const first = await describe();
    assert.equal((await run(['put', 'rule'], 'two')).status, 0);
    const kept = await describe();
    assert.deepEqual(kept.tags, { team: 'a' });
    assert.deepEqual(kept.rotationPolicy, { intervalDays: 30 });
    assert.equal(kept.createdAt, first.createdAt);
    assert.equal((await run(['put', 'rule', '--tag', 'team=b'], 'three')).status, 0);
    const replaced = await describe();
    assert.deepEqual(replaced.tags, { team: 'b' }, '--tag replaces the tags');
    assert.deepEqual(
      replaced.rotationPolicy,
      { intervalDays: 30 },
      'the interval is kept without --rotation-days',
    );
    assert.equal((await run(['get', 'rule'])).stdout, 'three');
  });

  it('a secret is never accepted on the command line', async () => {
    const r = await run(['put', 'x', SENTINEL]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /one credential id/);
    assert.ok(!r.stderr.includes(SENTINEL));
    const empty = await run(['put', 'x'], '');
    assert.equal(empty.status, 2);
    assert.match(empty.stderr, /value is empty/);
  });

  it('list filters by tag and by creation time, plain and --json', async () => {
    const a = await run(['put', 'time_a', '--tag', 'batch=t'], 'a');
    assert.equal(a.status, 0);
    const aCreated = JSON.parse((await run(['describe', 'time_a', '--json'])).stdout).metadata.createdAt;
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await run(['put', 'time_b', '--tag', 'batch=t'], 'b')).status, 0);
    const bCreated = JSON.parse((await run(['describe', 'time_b', '--json'])).stdout).metadata.createdAt;
    assert.ok(bCreated > aCreated);

    const all = await run(['list']);
    assert.equal(all.status, 0);
    assert.deepEqual(all.stdout.trim().split('\n'), [...all.stdout.trim().split('\n')].sort());
    assert.ok(all.stdout.includes('github_token\n'));
    const tagged = await run(['list', '--tag', 'team=platform', '--json']);
    assert.deepEqual(JSON.parse(tagged.stdout), ['github_token']);
    const both = await run(['list', '--tag', 'team=platform', '--tag', 'env=staging', '--json']);
    assert.deepEqual(JSON.parse(both.stdout), []);
    const batch = await run(['list', '--tag', 'batch=t']);
    assert.equal(batch.stdout, 'time_a\ntime_b\n');
    assert.equal((await run(['list', '--tag', 'batch=t', '--created-after', bCreated])).stdout, 'time_b\n');
    assert.equal((await run(['list', '--tag', 'batch=t', '--created-before', aCreated])).stdout, 'time_a\n');
    const future = await run(['list', '--created-after', '2999-01-01', '--json']);
    assert.deepEqual(JSON.parse(future.stdout), []);
    const bad = await run(['list', '--created-after', 'yesterday']);
    assert.equal(bad.status, 2);
  });

  it('describe shows metadata and never the value', async () => {
    const r = await run(['describe', 'github_token']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^id: +github_token$/m);
    assert.match(r.stdout, /^tags: +(env=prod, team=platform|team=platform, env=prod)$/m);
    assert.ok(!r.stdout.includes(SENTINEL));
    const json = JSON.parse((await run(['describe', 'github_token', '--json'])).stdout);
    assert.deepEqual(Object.keys(json).sort(), ['id', 'metadata', 'provider']);
    assert.deepEqual(json.metadata.tags, { team: 'platform', env: 'prod' });
    assert.ok(!JSON.stringify(json).includes(SENTINEL));
  });

  it('exists: status 0 when present, 1 when absent, nothing printed', async () => {
    const yes = await run(['exists', 'github_token']);
    assert.deepEqual([yes.status, yes.stdout, yes.stderr], [0, '', '']);
    const no = await run(['exists', 'missing_one']);
    assert.deepEqual([no.status, no.stdout, no.stderr], [1, '', '']);
  });

  it('a missing credential exits with the NotFound status, one line on stderr, no stack', async () => {
    const r = await run(['get', 'missing_one']);
    assert.equal(r.status, EXIT_CODES.NotFound);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^nebula-credential: error \[NotFound\]: .*missing_one/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.ok(!r.stderr.includes('    at '));
    assert.equal((await run(['describe', 'missing_one'])).status, EXIT_CODES.NotFound);
  });

  it('delete removes; deleting again is NotFound unless --force', async () => {
    assert.equal((await run(['put', 'doomed'], 'x')).status, 0);
    assert.equal((await run(['delete', 'doomed'])).status, 0);
    assert.equal((await run(['exists', 'doomed'])).status, 1);
    assert.equal((await run(['delete', 'doomed'])).status, EXIT_CODES.NotFound);
    assert.equal((await run(['delete', 'doomed', '--force'])).status, 0);
  });

  it('an invalid id exits InvalidId before touching storage', async () => {
    const r = await run(['get', '../etc/passwd']);
    assert.equal(r.status, EXIT_CODES.InvalidId);
  });

  it('a credential file whose permissions were tightened is a visible warning, without --debug', async () => {
    assert.equal((await run(['put', 'drifted'], SENTINEL)).status, 0);
    const file = join(home, '.nebula', 'credentials', 'drifted.enc');
    await chmod(file, 0o644);
    const get = await run(['get', 'drifted']);
    assert.equal(get.status, 0, get.stderr);
    assert.equal(get.stdout, SENTINEL);
    assert.match(get.stderr, /^nebula-credential: warning: .*tightened to 0600/m);
    assert.match(get.stderr, /drifted/);
    assert.ok(!get.stderr.includes(SENTINEL));
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const again = await run(['get', 'drifted']);
    assert.equal(again.stderr, '', 'a file already 0600 gives no warning');
  });

  it('no secret reaches stderr, not even with --debug (which adds the provider log and stacks)', async () => {
    const put = await run(['put', 'debugged', '--debug'], SENTINEL);
    assert.equal(put.status, 0, put.stderr);
    const get = await run(['get', 'debugged', '--debug']);
    assert.equal(get.stdout, SENTINEL);
    const fail = await run(['get', 'missing_one', '--debug']);
    assert.equal(fail.status, EXIT_CODES.NotFound);
    assert.match(fail.stderr, /"code": "NotFound"/);
    assert.match(fail.stderr, /\n {4}at /, 'a stack trace under --debug');
    for (const r of [put, get, fail]) assert.ok(!r.stderr.includes(SENTINEL), r.stderr);
    assert.ok(get.stderr.length > 0, 'the debug log is on stderr');
  });

  it('--config and NEBULA_CREDENTIAL_CONFIG select the backend; switching is one line', async () => {
    const other = join(home, 'other.json');
    await writeFile(
      other,
      JSON.stringify({
        provider: 'local',
        directory: './other-creds',
        encryption: { keyFile: '~/.nebula/key' },
      }),
    );
    assert.equal((await run(['put', 'elsewhere', '--config', other], 'e')).status, 0);
    await stat(join(home, 'other-creds'));
    assert.equal((await run(['exists', 'elsewhere'])).status, 1);
    assert.equal(
      (await run(['exists', 'elsewhere'], undefined, { NEBULA_CREDENTIAL_CONFIG: other })).status,
      0,
    );
    const inline = JSON.stringify({ provider: 'local', directory: join(home, 'other-creds') });
    assert.equal((await run(['get', 'elsewhere', '--config', inline])).stdout, 'e');
    assert.equal((await run(['get', 'elsewhere', '--dir', join(home, 'other-creds')])).stdout, 'e');
    const unknown = await run(['list', '--config', JSON.stringify({ provider: 'nope' })]);
    assert.equal(unknown.status, EXIT_CODES.InvalidConfig);
  });

  it('a bad config file is InvalidConfig without quoting its contents', async () => {
    const path = join(home, 'broken.json');
    await writeFile(path, `{"provider": "local", "token": "${SENTINEL}"`);
    const r = await run(['list', '--config', path]);
    assert.equal(r.status, EXIT_CODES.InvalidConfig);
    assert.ok(!r.stderr.includes(SENTINEL));
    const inConfig = await run([
      'list',
      '--config',
      JSON.stringify({ provider: 'local', encryption: { key: SENTINEL } }),
    ]);
    assert.equal(inConfig.status, EXIT_CODES.InvalidConfig);
    assert.ok(!inConfig.stderr.includes(SENTINEL));
  });

  it('--help for every command, --version from package.json, usage errors exit 2', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    assert.equal((await run(['--version'])).stdout, `${pkg.version}\n`);
    const main = await run(['--help']);
    assert.equal(main.status, 0);
    for (const [code, status] of Object.entries(EXIT_CODES)) {
      assert.match(main.stdout, new RegExp(`^ +${status} +${code}\\b`, 'm'));
    }
    for (const command of [
      'put',
      'get',
      'list',
      'describe',
      'delete',
      'exists',
      'init',
      'copy',
      'emulator',
    ] as const) {
      const h = await run([command, '--help']);
      assert.equal(h.status, 0, command);
      assert.match(h.stdout, new RegExp(`^Usage: nebula-credential ${command}`), command);
      assert.deepEqual((await run(['help', command])).stdout, h.stdout);
      // Short: usage, options, an example, and a pointer to what every command shares.
      assert.match(h.stdout, /\nExample:\n {2}.*nebula-credential /, command);
      assert.match(h.stdout, /exit\nstatuses: nebula-credential --help\.\n$/, command);
      assert.ok(!/Exit status:/.test(h.stdout), `${command}: the exit table is only in the main help`);
      assert.ok(
        h.stdout.split('\n').length <= 25,
        `${command} --help is ${h.stdout.split('\n').length} lines`,
      );
      for (const [option, spec] of Object.entries(COMMAND_OPTIONS[command])) {
        const short = 'short' in spec ? `-${spec.short}, ` : '';
        assert.match(h.stdout, new RegExp(`^  ${short}--${option}\\b`, 'm'), `${command} --${option}`);
      }
    }
    assert.equal((await run(['frobnicate'])).status, 2);
    assert.equal((await run(['get', 'x', '--tag', 'a=b'])).status, 2, 'an option of another command');
    assert.equal((await run([])).status, 2);
  });

  it('docs/cli.md documents the same exit status table as --help', () => {
    const docs = readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8');
    for (const [code, status] of Object.entries(EXIT_CODES)) {
      assert.match(docs, new RegExp(`\\| *${status} *\\| \`${code}\``), code);
    }
  });
});

describe('nebula-credential with a passphrase (Argon2id, stored salt)', () => {
  const env = { NEBULA_CREDENTIAL_PASSPHRASE: 'correct horse battery' };

  it('init --passphrase, put and get with it; a wrong passphrase is a clear AuthenticationFailed', async () => {
    const { home, cleanup } = await tempHome();
    try {
      const init = await nebula(['init', '--passphrase'], { home, env });
      assert.equal(init.status, 0, init.stderr);
      const file = JSON.parse(readFileSync(join(home, '.nebula', 'passphrase.json'), 'utf8'));
      assert.equal(file.kdf, 'argon2id');
      assert.equal(Buffer.from(file.salt, 'base64').length, 32);
      assert.equal((await stat(join(home, '.nebula', 'passphrase.json'))).mode & 0o777, 0o600);
      assert.equal((await nebula(['put', 'p'], { home, env, input: SENTINEL })).status, 0);
      assert.equal((await nebula(['get', 'p'], { home, env })).stdout, SENTINEL);

      const wrong = await nebula(['get', 'p'], {
        home,
        env: { NEBULA_CREDENTIAL_PASSPHRASE: 'wrong horse' },
      });
      assert.equal(wrong.status, EXIT_CODES.AuthenticationFailed);
      assert.match(wrong.stderr, /wrong passphrase/);
      assert.equal(wrong.stdout, '');
      const wrongPut = await nebula(['put', 'p'], {
        home,
        env: { NEBULA_CREDENTIAL_PASSPHRASE: 'wrong horse' },
        input: 'x',
      });
      assert.equal(wrongPut.status, EXIT_CODES.AuthenticationFailed, 'nothing is written with a wrong key');
      assert.equal((await nebula(['get', 'p'], { home, env })).stdout, SENTINEL);

      const none = await nebula(['get', 'p'], { home });
      assert.equal(none.status, EXIT_CODES.AuthenticationFailed);
      assert.match(none.stderr, /NEBULA_CREDENTIAL_PASSPHRASE/);
      assert.equal((await nebula(['exists', 'p'], { home })).status, 0, 'exists needs no passphrase');

      const mixed = await nebula(['init'], { home });
      assert.equal(mixed.status, EXIT_CODES.Conflict, 'never a second key beside the passphrase');
    } finally {
      await cleanup();
    }
  });

  it('without init, put says to run init', async () => {
    const { home, cleanup } = await tempHome();
    try {
      const r = await nebula(['put', 'x'], { home, input: 'v' });
      assert.equal(r.status, EXIT_CODES.InvalidConfig);
      assert.match(r.stderr, /nebula-credential init/);
    } finally {
      await cleanup();
    }
  });
});
