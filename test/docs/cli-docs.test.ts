import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { COMMAND_OPTIONS, GLOBAL_OPTIONS } from '../../src/cli/args.js';
import { CONFIG_ENV, KEY_FILE_ENV, PASSPHRASE_ENV } from '../../src/cli/config.js';
import { exitStatusRows } from '../../src/cli/exit-codes.js';
import { helpText } from '../../src/cli/help.js';
import { ROOT } from '../cli/helpers.js';

const cliDoc = readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8');

describe('docs/cli.md matches the command', () => {
  it('the exit-status table is the one the code uses, row for row', () => {
    const start = cliDoc.indexOf('| Status |');
    assert.ok(start >= 0, 'docs/cli.md has no exit-status table');
    const rows = cliDoc
      .slice(start)
      .split('\n')
      .slice(2)
      .filter((_, i, all) => all.slice(0, i + 1).every((l) => l.startsWith('|')))
      .map((line) => {
        const [status, text] = line
          .replace(/^\||\|$/g, '')
          .split('|')
          .map((c) => c.trim().replace(/`/g, ''));
        const coded = /^([A-Z][A-Za-z]+): (.*)$/.exec(text ?? '');
        return { status: Number(status), code: coded?.[1], meaning: coded ? coded[2] : text };
      });
    assert.deepEqual(rows, exitStatusRows());
  });

  it('documents every option the command accepts, and no option it does not', () => {
    const accepted = new Set([
      ...Object.keys(GLOBAL_OPTIONS),
      ...Object.values(COMMAND_OPTIONS).flatMap((o) => Object.keys(o)),
    ]);
    const documented = new Set([...cliDoc.matchAll(/(?<![\w-])--([a-z][a-z-]*)/g)].map((m) => m[1]!));
    assert.deepEqual(
      [...accepted].filter((o) => !documented.has(o)),
      [],
      'options missing from docs/cli.md',
    );
    assert.deepEqual(
      [...documented].filter((o) => !accepted.has(o)),
      [],
      'docs/cli.md names options the command does not have',
    );
    const main = helpText();
    for (const option of Object.keys(GLOBAL_OPTIONS))
      assert.match(main, new RegExp(`--${option}\\b`), option);
  });

  it('documents the environment variables, and the key-file precedence the code follows', () => {
    for (const name of [CONFIG_ENV, KEY_FILE_ENV, PASSPHRASE_ENV]) {
      assert.match(cliDoc, new RegExp(`^\\| \`${name}\` +\\|`, 'm'), `${name} in the files table`);
    }
    // test/cli/messages.test.ts runs the command to prove this order; here the doc must state it.
    const order = [
      /^1\. `--key-file <path>`/m,
      new RegExp(`^2\\. \`${KEY_FILE_ENV}\`.*overrides the config's \`encryption\``, 'm'),
      /^3\. the config's `encryption` member/m,
      /^4\. `~\/\.nebula\/key`/m,
      /^5\. `~\/\.nebula\/passphrase\.json`/m,
    ].map((re) => re.exec(cliDoc)?.index ?? -1);
    assert.ok(
      order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]!)),
      `key precedence list: ${order}`,
    );
  });
});

describe('documentation links resolve', () => {
  const docs = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
    ...readdirSync(join(ROOT, 'docs', 'providers')).map((f) => `docs/providers/${f}`),
  ];
  for (const file of docs) {
    it(`${file}: every relative link points at a file that exists`, () => {
      const text = readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
      const broken = [...text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)]
        .map((m) => m[1]!)
        .filter((target) => !/^[a-z]+:/.test(target))
        .filter((target) => !existsSync(join(ROOT, dirname(file), target)));
      assert.deepEqual(broken, []);
    });
  }
});
