import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jsonErrorLocation } from '../../src/cli/config.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { EncryptionManager } from '../../src/core/crypto.js';
import { nebula, tempHome } from './helpers.js';

const SENTINEL = 'SENTINEL-messages-77e1';

describe('messages people read (spawned command)', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  const run = (args: string[], input?: string, env?: Record<string, string>) =>
    nebula(args, { home, ...(input === undefined ? {} : { input }), ...(env ? { env } : {}) });
  let otherKeyId: string;
  let homeKeyId: string;

  before(async () => {
    ({ home, cleanup } = await tempHome());
    assert.equal((await run(['init'])).status, 0);
    assert.equal((await run(['put', 'present'], SENTINEL)).status, 0);
    const other = randomBytes(32);
    otherKeyId = EncryptionManager.fromKey(Buffer.from(other)).keyId;
    await writeFile(join(home, 'other.key'), other.toString('hex'), { mode: 0o600 });
    const { readKeyFile } = await import('../../src/core/store.js');
    homeKeyId = EncryptionManager.fromKey(await readKeyFile(join(home, '.nebula', 'key'))).keyId;
  });
  after(() => cleanup());

  it('delete of a missing id says there was nothing to delete: NotFound, or exit 0 with --force', async () => {
    const plain = await run(['delete', 'never_stored']);
    assert.equal(plain.status, EXIT_CODES.NotFound);
    assert.match(plain.stderr, /nothing to delete: credential "never_stored" does not exist in local/);
    const forced = await run(['delete', 'never_stored', '--force']);
    assert.equal(forced.status, 0);
    assert.equal(forced.stderr, 'nothing to delete: "never_stored" does not exist (local)\n');
    assert.ok(!forced.stderr.includes('deleted'));
  });

  it('--rotation-days with a negative, zero or non-numeric value says what is wrong', async () => {
    for (const [args, why] of [
      [['--rotation-days', '-3'], '-3 is negative'],
      [['--rotation-days=-3'], '-3 is negative'],
      [['--rotation-days', '0'], '0 is less than 1'],
      [['--rotation-days', '2.5'], '2.5 is not a whole number'],
    ] as const) {
      const r = await run(['put', 'rotating', ...args], 'v');
      assert.equal(r.status, 2, args.join(' '));
      assert.ok(
        r.stderr.startsWith(
          `nebula-credential: --rotation-days takes a whole number of days from 1 to 36500 (${why})\n`,
        ),
        r.stderr,
      );
    }
    const missing = await run(['put', 'rotating', '--rotation-days']);
    assert.match(missing.stderr, /option --rotation-days needs a value/);
    const dash = await run(['put', 'rotating', '--tag', '-x']);
    assert.match(
      dash.stderr,
      /option --tag needs a value for "put"; a value that starts with "-" is written --tag=<value>/,
    );
    assert.ok(!dash.stderr.includes('-x'));
  });

  it("a wrong key names the key file used and both key ids, in the user's words", async () => {
    const r = await run(['get', 'present', '--key-file', '~/other.key']);
    assert.equal(r.status, EXIT_CODES.DecryptionFailed);
    assert.equal(
      r.stderr,
      `nebula-credential: error [DecryptionFailed]: cannot decrypt "present": it was stored with key ${homeKeyId}, but the key file ~/other.key is key ${otherKeyId}; give the key it was stored with (--key-file, NEBULA_CREDENTIAL_KEY_FILE or "encryption" in the config)\n`,
    );
    assert.ok(!r.stderr.includes('manager'));
    assert.ok(!r.stderr.includes(SENTINEL));
  });

  it('NEBULA_CREDENTIAL_KEY_FILE overrides the config\'s "encryption"; --key-file overrides both', async () => {
    const env = { NEBULA_CREDENTIAL_KEY_FILE: join(home, 'other.key') };
    const fromEnv = await run(['get', 'present'], undefined, env);
    assert.equal(fromEnv.status, EXIT_CODES.DecryptionFailed, 'the environment beat ~/.nebula/config.json');
    assert.match(fromEnv.stderr, /the key file ~\/other\.key is key /);
    const flag = await run(['get', 'present', '--key-file', '~/.nebula/key'], undefined, env);
    assert.equal(flag.status, 0, flag.stderr);
    assert.equal(flag.stdout, SENTINEL);
  });

  it('an invalid JSON config names the line and column, never the text', async () => {
    const path = join(home, 'trailing-comma.json');
    const text = `{\n  "provider": "local",\n  "token": "${SENTINEL}",\n}\n`;
    await writeFile(path, text);
    const r = await run(['list', '--config', path]);
    assert.equal(r.status, EXIT_CODES.InvalidConfig);
    // The closing brace after the trailing comma is where JSON stops making sense.
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.startsWith('}')) + 1;
    assert.match(r.stderr, new RegExp(`is not valid JSON: the error is at line ${line}, column 1\\n`));
    assert.ok(!r.stderr.includes(SENTINEL));
    const truncated = await run(['list', '--config', '{"provider": "local"']);
    assert.match(truncated.stderr, /is not valid JSON: the error is at line 1, column 21\n/);
  });

  it('the position from every Node line: "at position N" and "(line L column C)"', () => {
    const text = '{\n  "a": 1\n  "b": 2\n}';
    assert.deepEqual(jsonErrorLocation(text, 'Unexpected string in JSON at position 13'), {
      line: 3,
      column: 3,
    });
    assert.deepEqual(
      jsonErrorLocation(
        text,
        "Expected ',' or '}' after property value in JSON at position 13 (line 3 column 3)",
      ),
      { line: 3, column: 3 },
    );
    assert.deepEqual(jsonErrorLocation('{"a"', 'Unexpected end of JSON input'), { line: 1, column: 5 });
    assert.equal(jsonErrorLocation(text, 'something else'), undefined);
  });

  it('a typo in "encryption" gets a "did you mean"; a key in the config is refused without echo', async () => {
    const typo = await run([
      'list',
      '--config',
      JSON.stringify({ provider: 'local', encryption: { keyfile: '~/.nebula/key' } }),
    ]);
    assert.equal(typo.status, EXIT_CODES.InvalidConfig);
    assert.match(typo.stderr, /"encryption\.keyfile" is unknown \(did you mean "encryption\.keyFile"\?\)/);
    const pass = await run([
      'list',
      '--config',
      JSON.stringify({ provider: 'local', encryption: { passphrasFile: 'p.json' } }),
    ]);
    assert.match(pass.stderr, /did you mean "encryption\.passphraseFile"/);
    const secret = await run([
      'list',
      '--config',
      JSON.stringify({ provider: 'local', encryption: { key: SENTINEL } }),
    ]);
    assert.match(secret.stderr, /never goes in the config/);
    assert.ok(!secret.stderr.includes(SENTINEL));
  });
});
