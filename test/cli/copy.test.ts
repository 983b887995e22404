import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { nebula, tempHome } from './helpers.js';

describe('nebula-credential copy (two local backends)', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  let dest: string;
  const ids = ['c1', 'c2', 'c3', 'c4', 'c5'];
  const run = (args: string[], input?: string) =>
    nebula(args, { home, ...(input === undefined ? {} : { input }) });

  before(async () => {
    ({ home, cleanup } = await tempHome());
    assert.equal((await run(['init'])).status, 0);
    for (const id of ids) {
      const r = await run(
        ['put', id, '--tag', 'batch=copy', '--tag', `name=${id}`, '--rotation-days', '30'],
        `value-of-${id}`,
      );
      assert.equal(r.status, 0, r.stderr);
    }
    assert.equal((await run(['put', 'untagged'], 'u')).status, 0);
    dest = join(home, 'dest.json');
    await writeFile(
      dest,
      JSON.stringify({ provider: 'local', directory: './dest', encryption: { keyFile: '~/.nebula/key' } }),
    );
  });
  after(() => cleanup());

  it('--dry-run lists what it would copy and writes nothing', async () => {
    const r = await run([
      'copy',
      '--from',
      '~/.nebula/config.json',
      '--to',
      dest,
      '--tag',
      'batch=copy',
      '--dry-run',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /would copy 5 of 5 credentials from local to local \(ciphertext copied as stored\)/,
    );
    for (const id of ids) assert.match(r.stdout, new RegExp(`^  ${id}  new$`, 'm'));
    assert.equal((await run(['list', '--config', dest])).stdout, '');
  });

  it('a failure in the middle names what was and was not copied; re-running finishes the job', async () => {
    // A directory where c3's file must go makes the destination fail on the third credential.
    const blocker = join(home, 'dest', 'c3.enc');
    await mkdir(blocker, { recursive: true });
    const first = await run([
      'copy',
      '--from',
      '~/.nebula/config.json',
      '--to',
      dest,
      '--tag',
      'batch=copy',
      '--json',
    ]);
    assert.notEqual(first.status, 0);
    const summary = JSON.parse(first.stdout);
    assert.deepEqual(summary.copied, ['c1', 'c2']);
    assert.deepEqual(summary.unchanged, []);
    assert.equal(summary.failed.id, 'c3');
    assert.deepEqual(summary.notAttempted, ['c4', 'c5']);
    assert.equal(first.status, EXIT_CODES[summary.failed.code as keyof typeof EXIT_CODES]);
    assert.match(first.stderr, /nebula-credential: error \[/);
    assert.ok(!first.stderr.includes('\r'), 'no progress bar when stderr is not a terminal');

    await rmdir(blocker);
    const second = await run([
      'copy',
      '--from',
      '~/.nebula/config.json',
      '--to',
      dest,
      '--tag',
      'batch=copy',
    ]);
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /^copied 3, unchanged 2, failed 0, not attempted 0 /);
    assert.match(second.stdout, /copied: +c3, c4, c5/);
    assert.match(second.stdout, /unchanged: +c1, c2/);

    const third = await run([
      'copy',
      '--from',
      '~/.nebula/config.json',
      '--to',
      dest,
      '--tag',
      'batch=copy',
      '--json',
    ]);
    assert.equal(third.status, 0);
    assert.deepEqual(JSON.parse(third.stdout).unchanged, ids);
  });

  it('copies values and metadata exactly, and only what the tag filter selects', async () => {
    assert.equal((await run(['exists', 'untagged', '--config', dest])).status, 1);
    for (const id of ids) {
      assert.equal((await run(['get', id, '--config', dest])).stdout, `value-of-${id}`);
      const a = JSON.parse((await run(['describe', id, '--json'])).stdout);
      const b = JSON.parse((await run(['describe', id, '--json', '--config', dest])).stdout);
      assert.deepEqual(b.metadata, a.metadata);
    }
  });

  it('re-encrypts when the destination has another key, and verifies by decrypting', async () => {
    const keyFile = join(home, 'other.key');
    await writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
    const other = JSON.stringify({
      provider: 'local',
      directory: join(home, 'dest2'),
      encryption: { keyFile },
    });
    const r = await run([
      'copy',
      '--from',
      '~/.nebula/config.json',
      '--to',
      other,
      '--tag',
      'name=c2',
      '--json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.mode, 're-encrypted');
    assert.deepEqual(summary.copied, ['c2']);
    assert.equal((await run(['get', 'c2', '--config', other])).stdout, 'value-of-c2');
    const withWrongKey = await run(['get', 'c2', '--config', other, '--key-file', '~/.nebula/key']);
    assert.equal(withWrongKey.status, EXIT_CODES.DecryptionFailed);
    const again = await run([
      'copy',
      '--from',
      '~/.nebula/config.json',
      '--to',
      other,
      '--tag',
      'name=c2',
      '--json',
    ]);
    assert.deepEqual(JSON.parse(again.stdout).unchanged, ['c2']);
  });

  it('an unusable destination fails before anything is copied, naming the problem', async () => {
    await writeFile(join(home, 'a-file'), 'x');
    const broken = JSON.stringify({ provider: 'local', directory: join(home, 'a-file', 'sub') });
    const r = await run(['copy', '--from', '~/.nebula/config.json', '--to', broken]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^nebula-credential: error \[\w+\]/);
    assert.ok(!r.stderr.includes('value-of-'));
  });

  it('usage errors: missing --to, same backend, stray --config', async () => {
    assert.equal((await run(['copy', '--from', dest])).status, 2);
    assert.equal((await run(['copy', '--from', dest, '--to', dest])).status, 2);
    assert.equal(
      (await run(['copy', '--from', dest, '--to', '~/.nebula/config.json', '--config', dest])).status,
      2,
    );
  });
});

describe('nebula-credential copy --dry-run (the plan)', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  const run = (args: string[], input?: string) =>
    nebula(args, { home, ...(input === undefined ? {} : { input }) });
  const source = ['--from', '~/.nebula/config.json'];
  const ids = Array.from({ length: 8 }, (_, i) => `p${i}`);

  before(async () => {
    ({ home, cleanup } = await tempHome());
    assert.equal((await run(['init'])).status, 0);
    for (const id of ids) assert.equal((await run(['put', id], `value-of-${id}`)).status, 0);
    await writeFile(
      join(home, 'plan-dest.json'),
      JSON.stringify({
        provider: 'local',
        directory: './plan-dest',
        encryption: { keyFile: '~/.nebula/key' },
      }),
    );
  });
  after(() => cleanup());

  const planFor = async () => {
    const r = await run(['copy', ...source, '--to', join(home, 'plan-dest.json'), '--dry-run', '--json']);
    return { r, plan: JSON.parse(r.stdout) };
  };

  it('--json lists what would be copied, what is unchanged, with ids, and writes nothing', async () => {
    const first = await planFor();
    assert.deepEqual(
      first.plan.wouldCopy,
      ids.map((id) => ({ id, status: 'new' })),
    );
    const copy = await run(['copy', ...source, '--to', join(home, 'plan-dest.json'), '--json']);
    assert.deepEqual(JSON.parse(copy.stdout).copied, ids, copy.stderr);
    // Then at the source p3 gets a new value and p8 is added.
    assert.equal((await run(['put', 'p3'], 'changed')).status, 0);
    assert.equal((await run(['put', 'p8'], 'value-of-p8')).status, 0);
    const { r, plan } = await planFor();
    assert.equal(r.status, 0, r.stderr);
    assert.equal(plan.dryRun, true);
    assert.equal(plan.total, ids.length + 1);
    assert.deepEqual(plan.wouldCopy, [
      { id: 'p3', status: 'differs' },
      { id: 'p8', status: 'new' },
    ]);
    assert.deepEqual(
      plan.unchanged,
      ids.filter((id) => id !== 'p3'),
    );
    assert.deepEqual(plan.unchecked, []);
    assert.equal((await run(['exists', 'p8', '--config', join(home, 'plan-dest.json')])).status, 1);
  });

  it('goes on past a credential it cannot read, and counts every credential', async () => {
    await writeFile(join(home, '.nebula', 'credentials', 'p5.enc'), 'not a credential document');
    const { r, plan } = await planFor();
    assert.equal(plan.total, ids.length + 1);
    assert.equal(plan.wouldCopy.length + plan.unchanged.length + plan.unchecked.length, plan.total);
    assert.deepEqual(
      plan.unchecked.map((u: { id: string; code: string }) => u.id),
      ['p5'],
    );
    const code = plan.unchecked[0].code as keyof typeof EXIT_CODES;
    assert.equal(r.status, EXIT_CODES[code], 'the exit status is the first unchecked one');
    assert.ok(plan.unchanged.includes('p6') && plan.unchanged.includes('p7'), 'those after p5 were checked');

    const text = await run(['copy', ...source, '--to', join(home, 'plan-dest.json'), '--dry-run']);
    assert.match(
      text.stdout,
      new RegExp(
        `^dry run: would copy 2 of ${plan.total} credentials .*; ${plan.total - 3} unchanged, 1 could not be checked$`,
        'm',
      ),
    );
    assert.match(text.stdout, new RegExp(`^  p5  could not be checked: ${code}$`, 'm'));
    assert.match(text.stdout, /^ {2}p7 {2}identical at the destination: would be skipped$/m);
  });
});
