import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { classifyHttpStatus, transportError } from '../../src/core/transport.js';
import { renderBehaviourMatrixTable } from '../../src/testing/conformance-matrix.js';

// docs/errors.md states the transport policy in three tables; each is checked against the code (or rendered
// from the suite's expectations), so the page cannot drift from what the library does.
const page = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

function between(name: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const start = page.indexOf(begin);
  const stop = page.indexOf(end);
  assert.ok(start >= 0 && stop > start, `docs/errors.md lacks the ${begin} ... ${end} block`);
  return page.slice(start + begin.length, stop).trim();
}

/** Body rows of a Markdown table, as trimmed cells. */
function rows(table: string): string[][] {
  return table
    .split('\n')
    .slice(2)
    .map((line) =>
      line
        .replace(/^\|/, '')
        .replace(/\|$/, '')
        .split('|')
        .map((cell) => cell.trim()),
    );
}

const unquote = (cell: string) => cell.replace(/`/g, '');
const yesNo = (cell: string) => {
  assert.ok(cell === 'yes' || cell === 'no', `retryable cell "${cell}"`);
  return cell === 'yes';
};

describe('docs/errors.md matches the transport policy', () => {
  it('shows the behaviour matrix exactly as the conformance suite asserts it', () => {
    const expected = renderBehaviourMatrixTable();
    assert.equal(
      between('behaviour-matrix'),
      expected,
      `replace the table between the behaviour-matrix markers in docs/errors.md with:\n${expected}`,
    );
  });

  it('states for every listed Node.js code the code and retryable the policy gives', () => {
    const table = rows(between('transport-failures'));
    assert.ok(table.length >= 8);
    let checked = 0;
    for (const [failure = '', code = '', retryable = ''] of table) {
      const codes = [...failure.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!);
      assert.ok(codes.length > 0, `no Node.js code in "${failure}"`);
      for (const nodeCode of codes) {
        const error = transportError(Object.assign(new Error('x'), { code: nodeCode }), {
          provider: 'docs',
          operation: 'retrieve',
          service: 'the service',
        });
        assert.ok(error, `${nodeCode} is not classified`);
        assert.equal(error.code, unquote(code), nodeCode);
        assert.equal(error.retryable, yesNo(retryable), nodeCode);
        checked++;
      }
    }
    assert.ok(checked >= 20, `only ${checked} codes checked`);
  });

  it('states the default meaning of each HTTP status as classifyHttpStatus gives it', () => {
    for (const [statuses = '', code = '', retryable = ''] of rows(between('http-status-defaults'))) {
      for (const status of statuses.split(',').map((s) => Number(s.trim()))) {
        assert.deepEqual(
          classifyHttpStatus(status),
          { code: unquote(code), retryable: yesNo(retryable) },
          String(status),
        );
      }
    }
  });
});
