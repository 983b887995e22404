import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseCommandLine, parseDate, parseInteger, parsePairs } from '../../src/cli/args.js';
import { resolveCliConfig, settingOrigins } from '../../src/cli/config.js';
import { EXIT_CODES, exitCodeFor, UsageError } from '../../src/cli/exit-codes.js';
import type { CliInput, CliIo } from '../../src/cli/io.js';
import { formatError } from '../../src/cli/output.js';
import { runCli } from '../../src/cli/run.js';
import { STORAGE_ERROR_CODES, StorageError } from '../../src/core/errors.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';

const SENTINEL = 'SENTINEL-unit-5b1e';

function capture() {
  const chunks: Buffer[] = [];
  return {
    write: (c: string | Uint8Array) => chunks.push(Buffer.from(c)),
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

function pipeInput(text: string): CliInput {
  return {
    isTTY: false,
    async *[Symbol.asyncIterator]() {
      if (text) yield Buffer.from(text);
    },
  };
}

/** A fake terminal: raw-mode keystrokes arrive as 'data' events, one string per prompt. */
function ttyInput(...answers: string[]): CliInput & { rawModes: boolean[] } {
  const emitter = new EventEmitter();
  const rawModes: boolean[] = [];
  return {
    isTTY: true,
    rawModes,
    setRawMode: (mode: boolean) => rawModes.push(mode),
    on: (event, listener) => emitter.on(event, listener),
    removeListener: (event, listener) => emitter.removeListener(event, listener),
    pause: () => {},
    resume: () => setImmediate(() => emitter.emit('data', Buffer.from(answers.shift() ?? '\r'))),
    async *[Symbol.asyncIterator]() {},
  };
}

describe('CLI argument parsing', () => {
  it('options may precede the command; each command accepts only its own options', () => {
    const p = parseCommandLine(['--config', 'x.json', 'get', 'api_key', '--json']);
    assert.equal(p.command, 'get');
    assert.deepEqual(p.args, ['api_key']);
    assert.equal(p.options.config, 'x.json');
    assert.equal(p.options.json, true);
    assert.throws(() => parseCommandLine(['get', 'a', '--rotation-days', '3']), UsageError);
    assert.throws(() => parseCommandLine(['nope']), /unknown command "nope"/);
    assert.deepEqual(parseCommandLine(['put', 'a', '-t', 'x=1', '-t', 'y=2']).options.tag, ['x=1', 'y=2']);
  });

  it('a parse error names the option, never a value typed with it', () => {
    try {
      parseCommandLine(['put', 'a', `--secret=${SENTINEL}`]);
      assert.fail('should throw');
    } catch (error) {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /unknown option --secret/);
      assert.ok(!error.message.includes(SENTINEL));
    }
    assert.throws(
      () => parseCommandLine(['list', `--json=${SENTINEL}`]),
      (e: Error) => !e.message.includes(SENTINEL),
    );
  });

  it('pairs, dates and integers are validated', () => {
    assert.deepEqual(parsePairs(['a=1', 'b=x=y', 'c='], '--tag'), { a: '1', b: 'x=y', c: '' });
    assert.throws(() => parsePairs(['=v'], '--tag'), UsageError);
    assert.throws(() => parsePairs(['novalue'], '--tag'), UsageError);
    assert.equal(parseDate('2026-01-31', '--d')?.toISOString(), '2026-01-31T00:00:00.000Z');
    assert.throws(() => parseDate('soon', '--d'), UsageError);
    assert.equal(parseInteger('90', 'rotation-days'), 90);
    const problems: Record<string, RegExp> = {
      '0': /0 is less than 1/,
      '1.5': /1\.5 is not a whole number/,
      '-3': /-3 is negative/,
      x: /not a number\)$/,
      '99999999': /99999999 is more than 36500/,
    };
    for (const [bad, why] of Object.entries(problems)) {
      assert.throws(
        () => parseInteger(bad, 'rotation-days'),
        (e: Error) =>
          e instanceof UsageError &&
          /^--rotation-days takes a whole number of days from 1 to 36500 \(/.test(e.message) &&
          why.test(e.message),
      );
    }
  });
});

describe('CLI exit statuses and error output', () => {
  it('every error code has its own status, distinct from 0, 1, 2 and 130', () => {
    const statuses = STORAGE_ERROR_CODES.map((code) => EXIT_CODES[code]);
    assert.equal(new Set(statuses).size, STORAGE_ERROR_CODES.length);
    for (const s of statuses) assert.ok(s > 2 && s < 126, String(s));
    assert.equal(exitCodeFor(new StorageError({ code: 'NotFound', message: 'x' })), 3);
    assert.equal(exitCodeFor(new UsageError('x')), 2);
    assert.equal(exitCodeFor(new TypeError('boom')), EXIT_CODES.Internal);
  });

  it('errors print without stack or cause; --debug adds fields and stack, still no cause text', () => {
    const cause = Object.assign(new Error(`request failed with Authorization: Bearer ${SENTINEL}`), {
      statusCode: 403,
    });
    const error = new StorageError({
      code: 'PermissionDenied',
      message: 'denied: needs secrets/get',
      provider: 'x',
      cause,
    });
    const plain = formatError(error, false);
    assert.equal(plain, 'nebula-credential: error [PermissionDenied]: denied: needs secrets/get\n');
    const debug = formatError(error, true);
    assert.match(debug, /"statusCode": 403/);
    assert.match(debug, / {4}at /);
    assert.ok(!debug.includes(SENTINEL));
    const foreign = formatError(new TypeError(`bad ${SENTINEL}`), false);
    assert.ok(!foreign.includes(SENTINEL));
    assert.match(foreign, /--debug/);
  });
});

describe('CLI config resolution', () => {
  let dir: string;
  const io = (env: Record<string, string> = {}): CliIo => ({
    stdin: pipeInput(''),
    stdout: capture(),
    stderr: capture(),
    env,
    cwd: join(dir, 'cwd'),
    home: join(dir, 'home'),
  });
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nebula-cli-unit-'));
    await mkdir(join(dir, 'cwd'));
    await mkdir(join(dir, 'home', '.nebula'), { recursive: true });
    await mkdir(join(dir, 'conf'));
    await writeFile(
      join(dir, 'conf', 'a.json'),
      JSON.stringify({ provider: 'local', directory: 'creds', encryption: { keyFile: '~/k' } }),
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('defaults to the local provider in ~/.nebula/credentials', async () => {
    const c = await resolveCliConfig({}, io());
    assert.deepEqual(c.storage, {
      provider: 'local',
      directory: join(dir, 'home', '.nebula', 'credentials'),
    });
    assert.equal(c.encryption, undefined);
  });

  it('--config beats NEBULA_CREDENTIAL_CONFIG beats ~/.nebula/config.json; paths resolve against the file', async () => {
    await writeFile(join(dir, 'home', '.nebula', 'config.json'), JSON.stringify({ provider: 'memory' }));
    assert.equal((await resolveCliConfig({}, io())).storage.provider, 'memory');
    const fromEnv = await resolveCliConfig({}, io({ NEBULA_CREDENTIAL_CONFIG: join(dir, 'conf', 'a.json') }));
    assert.deepEqual(fromEnv.storage, { provider: 'local', directory: join(dir, 'conf', 'creds') });
    assert.deepEqual(fromEnv.encryption, { keyFile: join(dir, 'home', 'k') });
    const inline = await resolveCliConfig(
      { config: '{"provider":"local","directory":"rel"}' },
      io({ NEBULA_CREDENTIAL_CONFIG: join(dir, 'conf', 'a.json') }),
    );
    assert.deepEqual(inline.storage, { provider: 'local', directory: join(dir, 'cwd', 'rel') });
    await rm(join(dir, 'home', '.nebula', 'config.json'));
  });

  it('flags apply on top: --provider starts afresh, --dir, --option (JSON values), --key-file', async () => {
    const c = await resolveCliConfig(
      {
        config: join(dir, 'conf', 'a.json'),
        dir: 'here',
        'key-file': '/keys/k',
        option: ['maxCredentialSize=2048'],
      },
      io(),
    );
    assert.deepEqual(c.storage, {
      provider: 'local',
      directory: join(dir, 'cwd', 'here'),
      maxCredentialSize: 2048,
    });
    assert.deepEqual(c.encryption, { keyFile: '/keys/k' });
    const v = await resolveCliConfig(
      {
        config: join(dir, 'conf', 'a.json'),
        provider: 'hashicorp-vault',
        option: ['address=http://127.0.0.1:8200', 'tls={"rejectUnauthorized":false}'],
      },
      io(),
    );
    assert.deepEqual(v.storage, {
      provider: 'hashicorp-vault',
      address: 'http://127.0.0.1:8200',
      tls: { rejectUnauthorized: false },
    });
    await assert.rejects(resolveCliConfig({ provider: 'kubernetes', dir: 'x' }, io()), UsageError);
    await assert.rejects(resolveCliConfig({ option: ['provider=x'] }, io()), UsageError);
  });

  it('every path option in a config file resolves against the file, nested ones and variants included', async () => {
    const configs: Record<string, Record<string, unknown>> = {
      vault: {
        provider: 'hashicorp-vault',
        address: 'https://v:8200',
        auth: { tokenFile: 'tok' },
        tls: { caFile: 'ca.pem' },
      },
      aws: { provider: 'aws-secrets-manager', tls: { caFile: 'ca.pem' }, prefix: 'app/' },
      azure: {
        provider: 'azure-key-vault',
        vaultUrl: 'https://v.vault.azure.net',
        credential: { type: 'client-certificate', clientId: 'c', certificatePath: 'cert.pem' },
        tls: { caFile: '~/ca.pem' },
      },
      kubernetes: {
        provider: 'kubernetes',
        kubeconfigPath: 'kube/config',
        serviceAccountDir: 'sa',
        namespace: 'apps',
      },
    };
    const conf = join(dir, 'conf');
    const at = (p: string) => join(conf, p);
    const expected: Record<string, Record<string, unknown>> = {
      vault: { ...configs['vault'], auth: { tokenFile: at('tok') }, tls: { caFile: at('ca.pem') } },
      aws: { ...configs['aws'], tls: { caFile: at('ca.pem') } },
      azure: {
        ...configs['azure'],
        credential: { type: 'client-certificate', clientId: 'c', certificatePath: at('cert.pem') },
        tls: { caFile: join(dir, 'home', 'ca.pem') },
      },
      kubernetes: {
        ...configs['kubernetes'],
        kubeconfigPath: at('kube/config'),
        serviceAccountDir: at('sa'),
      },
    };
    for (const [name, config] of Object.entries(configs)) {
      await writeFile(join(conf, `${name}.json`), JSON.stringify(config));
      const c = await resolveCliConfig({ config: join(conf, `${name}.json`) }, io());
      assert.deepEqual(c.storage, expected[name], name);
    }
    const flags = await resolveCliConfig(
      { config: join(conf, 'vault.json'), option: ['tls={"caFile":"here.pem"}', 'auth={"tokenFile":"t"}'] },
      io(),
    );
    assert.deepEqual(flags.storage, {
      provider: 'hashicorp-vault',
      address: 'https://v:8200',
      auth: { tokenFile: join(dir, 'cwd', 't') },
      tls: { caFile: join(dir, 'cwd', 'here.pem') },
    });
  });

  it('setting origins name the config file, the flag, the environment or the default, never a secret value', async () => {
    await writeFile(
      join(dir, 'conf', 'origins.json'),
      JSON.stringify({ provider: 'hashicorp-vault', address: 'https://v:8200', auth: { token: SENTINEL } }),
    );
    const c = await resolveCliConfig(
      { config: join(dir, 'conf', 'origins.json'), option: ['mount=kv'] },
      io(),
    );
    const origins = Object.fromEntries(
      settingOrigins(c, { VAULT_NAMESPACE: 'team' }).map((o) => [o.path, o]),
    );
    assert.deepEqual(origins['address'], {
      path: 'address',
      source: 'file',
      from: join(dir, 'conf', 'origins.json'),
      secret: false,
      value: 'https://v:8200/',
    });
    assert.deepEqual(origins['auth.token'], {
      path: 'auth.token',
      source: 'file',
      from: join(dir, 'conf', 'origins.json'),
      secret: true,
    });
    assert.deepEqual([origins['mount']?.source, origins['mount']?.from], ['option', '--option']);
    assert.deepEqual(
      [origins['namespace']?.source, origins['namespace']?.from],
      ['environment', 'VAULT_NAMESPACE'],
    );
    assert.equal(origins['prefix']?.source, 'default');
    assert.equal(origins['logger'], undefined, 'instance defaults are left out');
    assert.ok(!JSON.stringify(origins).includes(SENTINEL));
    const defaults = settingOrigins(await resolveCliConfig({}, io()), {});
    assert.deepEqual(
      defaults.find((o) => o.path === 'directory'),
      {
        path: 'directory',
        source: 'default',
        from: 'the command',
        secret: false,
        value: join(dir, 'home', '.nebula', 'credentials'),
      },
    );
  });

  it('a key or passphrase in the config is refused', async () => {
    await assert.rejects(
      resolveCliConfig({ config: '{"provider":"memory","encryption":{"passphrase":"x"}}' }, io()),
      (e: StorageError) => e.code === 'InvalidConfig' && /never goes in the config/.test(e.message),
    );
    await assert.rejects(
      resolveCliConfig({ config: '[1]' }, io()),
      (e: StorageError) => e.code === 'InvalidConfig',
    );
    await assert.rejects(
      resolveCliConfig({ config: join(dir, 'none.json') }, io()),
      /the config file .* does not exist/,
    );
  });
});

describe('runCli in process (shared memory provider)', () => {
  let dir: string;
  let provider: MemoryStorageProvider;
  const io = (stdin: CliInput, env: Record<string, string> = {}) => {
    const stdout = capture();
    const stderr = capture();
    const value: CliIo = {
      stdin,
      stdout,
      stderr,
      env,
      cwd: dir,
      home: dir,
      // One provider for every run, so commands see each other's writes; close() is the CLI's, not ours.
      openStorage: async () => ({
        name: provider.name,
        capabilities: provider.capabilities,
        connect: () => provider.connect(),
        store: (...a: Parameters<MemoryStorageProvider['store']>) => provider.store(...a),
        retrieve: (...a: Parameters<MemoryStorageProvider['retrieve']>) => provider.retrieve(...a),
        delete: (...a: Parameters<MemoryStorageProvider['delete']>) => provider.delete(...a),
        list: (...a: Parameters<MemoryStorageProvider['list']>) => provider.list(...a),
        exists: (...a: Parameters<MemoryStorageProvider['exists']>) => provider.exists(...a),
        close: async () => {},
      }),
    };
    return { value, stdout, stderr };
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nebula-cli-run-'));
    provider = new MemoryStorageProvider();
    await provider.connect();
    const r = io(pipeInput(''));
    assert.equal(await runCli(['init'], r.value), 0, r.stderr.text());
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('put from a pipe, get, list, exists, delete', async () => {
    let r = io(pipeInput(`${SENTINEL}\r\n`));
    assert.equal(await runCli(['put', 'unit_a', '--tag', 'k=v'], r.value), 0, r.stderr.text());
    r = io(pipeInput(''));
    assert.equal(await runCli(['get', 'unit_a'], r.value), 0);
    assert.equal(r.stdout.text(), SENTINEL);
    r = io(pipeInput(''));
    assert.equal(await runCli(['list', '--tag', 'k=v', '--json'], r.value), 0);
    assert.deepEqual(JSON.parse(r.stdout.text()), ['unit_a']);
    assert.equal(await runCli(['exists', 'unit_a'], io(pipeInput('')).value), 0);
    assert.equal(await runCli(['delete', 'unit_a'], io(pipeInput('')).value), 0);
    assert.equal(await runCli(['exists', 'unit_a'], io(pipeInput('')).value), 1);
  });

  it('put --new stores only a new id: over an existing one it exits 13 (Conflict) and changes nothing', async () => {
    let r = io(pipeInput('first'));
    assert.equal(await runCli(['put', 'unit_new', '--new', '--tag', 'k=1'], r.value), 0, r.stderr.text());
    r = io(pipeInput(SENTINEL));
    assert.equal(await runCli(['put', 'unit_new', '--new', '--tag', 'k=2'], r.value), 13);
    assert.match(r.stderr.text(), /already exists/);
    assert.ok(!r.stderr.text().includes(SENTINEL) && !r.stdout.text().includes(SENTINEL));
    r = io(pipeInput(''));
    assert.equal(await runCli(['get', 'unit_new', '--json'], r.value), 0);
    const shown = JSON.parse(r.stdout.text());
    assert.equal(shown.value, 'first');
    assert.deepEqual(shown.metadata.tags, { k: '1' });
  });

  it('on a terminal, put asks twice without echo (Backspace works) and the value never reaches stderr', async () => {
    const stdin = ttyInput(`${SENTINEL}x\u007f\r`, `${SENTINEL}\r`);
    const r = io(stdin);
    assert.equal(await runCli(['put', 'typed'], r.value), 0, r.stderr.text());
    assert.deepEqual(stdin.rawModes, [true, false, true, false]);
    assert.match(r.stderr.text(), /^Value for typed: \nRepeat the value for typed: \n/);
    assert.ok(!r.stderr.text().includes(SENTINEL));
    const g = io(pipeInput(''));
    await runCli(['get', 'typed'], g.value);
    assert.equal(g.stdout.text(), SENTINEL);
  });

  it('put refuses two different answers and stores nothing; --no-confirm asks once', async () => {
    const r = io(ttyInput('first-answer\r', 'second-answer\r'));
    assert.equal(await runCli(['put', 'mistyped'], r.value), 2);
    assert.match(r.stderr.text(), /the two values differ \(nothing was changed\)/);
    assert.equal(await provider.exists('mistyped'), false);
    const once = ttyInput('only-once\r');
    const o = io(once);
    assert.equal(await runCli(['put', 'mistyped', '--no-confirm'], o.value), 0, o.stderr.text());
    assert.deepEqual(once.rawModes, [true, false]);
    assert.match(o.stderr.text(), /^Value for mistyped: \nstored/);
  });

  it('put checks the id, the options and the config before it asks for the value', async () => {
    const cases: [string[], number][] = [
      [['put', '../escape'], EXIT_CODES.InvalidId],
      [['put', 'ok_id', '--rotation-days', '0'], 2],
      [['put', 'ok_id', '--config', '{"provider": "nope"}'], EXIT_CODES.InvalidConfig],
    ];
    for (const [args, status] of cases) {
      const stdin = ttyInput('never-typed\r');
      const r = io(stdin);
      r.value.openStorage = undefined;
      assert.equal(await runCli(args, r.value), status, `${args.join(' ')}: ${r.stderr.text()}`);
      assert.deepEqual(stdin.rawModes, [], `${args.join(' ')} asked for the value`);
      assert.ok(!r.stderr.text().includes('Value for'), args.join(' '));
    }
  });

  it('init --dir records that directory in ~/.nebula/config.json, which later commands use', async () => {
    const other = await mkdtemp(join(tmpdir(), 'nebula-cli-dir-'));
    try {
      const r = io(pipeInput(''));
      r.value.home = other;
      assert.equal(await runCli(['init', '--dir', 'elsewhere/creds'], r.value), 0, r.stderr.text());
      const config = JSON.parse(await readFile(join(other, '.nebula', 'config.json'), 'utf8'));
      assert.equal(config.directory, join(dir, 'elsewhere', 'creds'));
      const resolved = await resolveCliConfig({}, { ...r.value, cwd: '/' });
      assert.deepEqual(resolved.storage, { provider: 'local', directory: join(dir, 'elsewhere', 'creds') });
      assert.deepEqual(resolved.encryption, { keyFile: join(other, '.nebula', 'key') });
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('Ctrl-C at the prompt exits 130 and stores nothing', async () => {
    const r = io(ttyInput('abc\u0003'));
    assert.equal(await runCli(['put', 'cancelled'], r.value), 130);
    assert.equal(await provider.exists('cancelled'), false);
  });

  it('init --passphrase on a terminal asks twice and refuses a mismatch', async () => {
    const other = await mkdtemp(join(tmpdir(), 'nebula-cli-pp-'));
    try {
      const r = io(ttyInput('first-passphrase\r', 'other-passphrase\r'));
      r.value.home = other;
      assert.equal(await runCli(['init', '--passphrase'], r.value), 2);
      assert.match(r.stderr.text(), /^New passphrase: \nRepeat it: \n.*differ/s);
      const ok = io(ttyInput('same-passphrase\r', 'same-passphrase\r'));
      ok.value.home = other;
      assert.equal(await runCli(['init', '--passphrase'], ok.value), 0, ok.stderr.text());
      const get = io(ttyInput('wrong-passphrase\r'));
      get.value.home = other;
      assert.equal(await runCli(['get', 'x'], get.value), EXIT_CODES.AuthenticationFailed);
      assert.match(get.stderr.text(), /^Passphrase: \n.*wrong passphrase/s);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
