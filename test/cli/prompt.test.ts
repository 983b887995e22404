import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HiddenLineEditor } from '../../src/cli/prompt.js';
import { HAS_SCRIPT_PTY, nebula, nebulaOnTerminal, tempHome } from './helpers.js';

/** Feeds `chunks` (as a terminal would deliver them) and returns the result and the value. */
function edit(...chunks: string[]) {
  const editor = new HiddenLineEditor();
  let result = 'more';
  for (const chunk of chunks) {
    result = editor.feed(chunk);
    if (result !== 'more') break;
  }
  return { result, value: editor.value };
}

const ESC = '\u001b';
const BACKSPACE = '\u007f';

describe('the hidden prompt: line editing', () => {
  it('arrow keys, Home/End, F-keys and Alt-keys are ignored, not typed into the value', () => {
    const keys = [
      `${ESC}[A`, // up
      `${ESC}[D`, // left
      `${ESC}[1;5C`, // Ctrl-right, with parameters
      `${ESC}OH`, // Home in application mode
      `${ESC}[15~`, // F5
      `${ESC}b`, // Alt-b
      `${ESC}]0;title\u0007`, // an OSC string
    ];
    assert.deepEqual(edit(`pa${keys.join('')}ss\r`), { result: 'done', value: 'pass' });
    // A sequence split over two reads is still one key.
    assert.deepEqual(edit('ab', `${ESC}[`, 'Dc\r'), { result: 'done', value: 'abc' });
    // A lone Escape key press is ignored; the next key is typed.
    assert.deepEqual(edit('ab', ESC, 'c\r'), { result: 'done', value: 'abc' });
  });

  it('Backspace removes one whole character, however many code units or code points it has', () => {
    assert.deepEqual(edit(`abc${BACKSPACE}\r`).value, 'ab');
    assert.deepEqual(edit(`né${BACKSPACE}\r`).value, 'n');
    assert.deepEqual(edit(`x😀${BACKSPACE}\r`).value, 'x', 'an astral-plane emoji (two UTF-16 units)');
    assert.deepEqual(edit(`ye\u0301${BACKSPACE}\r`).value, 'y', 'e + combining acute accent');
    assert.deepEqual(edit(`a👍🏽${BACKSPACE}\r`).value, 'a', 'emoji with a skin-tone modifier');
    assert.deepEqual(edit(`a\b\b\b${BACKSPACE}b\r`).value, 'b', 'Backspace on an empty line does nothing');
  });

  it('Ctrl-U clears the line, Ctrl-W removes the last word, other control keys are ignored', () => {
    assert.deepEqual(edit('wrong\u0015right\r').value, 'right');
    assert.deepEqual(edit('one two\u0017three\r').value, 'one three');
    assert.deepEqual(edit('a\tb\u0001\u0005c\r').value, 'abc');
  });

  it('Enter or Ctrl-D submits, Ctrl-C interrupts, bracketed paste keeps the pasted text', () => {
    assert.deepEqual(edit('abc\n'), { result: 'done', value: 'abc' });
    assert.deepEqual(edit('abc\u0004'), { result: 'done', value: 'abc' });
    assert.equal(edit('abc\u0003def\r').result, 'interrupt');
    assert.deepEqual(edit(`${ESC}[200~pasted${ESC}[201~\r`).value, 'pasted');
    assert.deepEqual(edit('abc').result, 'more');
  });
});

describe('put on a terminal (a pseudo-terminal via script)', {
  skip: !HAS_SCRIPT_PTY && 'needs script from util-linux',
}, () => {
  let home: string;
  let cleanup: () => Promise<void>;
  const SENTINEL = 'SENTINEL-pty-3f8a';
  before(async () => {
    ({ home, cleanup } = await tempHome());
    assert.equal((await nebula(['init'], { home })).status, 0);
  });
  after(() => cleanup());
  const get = async (id: string) => (await nebula(['get', id], { home })).stdout;

  it('asks twice, with arrow keys ignored and Backspace removing a whole accented character', async () => {
    const r = await nebulaOnTerminal(['put', 'typed'], {
      home,
      steps: [
        { after: /Value for typed: $/, keys: `${SENTINEL}é${ESC}[A${ESC}[D${BACKSPACE}\r` },
        { after: /Repeat the value for typed: $/, keys: `${SENTINEL}\r` },
      ],
    });
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /stored "typed"/);
    assert.ok(!r.output.includes(SENTINEL), 'nothing typed is echoed');
    assert.equal(await get('typed'), SENTINEL);
  });

  it('two different answers store nothing (exit 2); --no-confirm asks once', async () => {
    const r = await nebulaOnTerminal(['put', 'differs'], {
      home,
      steps: [
        { after: /Value for differs: $/, keys: 'one\r' },
        { after: /Repeat the value for differs: $/, keys: 'two\r' },
      ],
    });
    assert.equal(r.status, 2, r.output);
    assert.match(r.output, /the two values differ/);
    assert.equal((await nebula(['exists', 'differs'], { home })).status, 1);
    const once = await nebulaOnTerminal(['put', 'differs', '--no-confirm'], {
      home,
      steps: [{ after: /Value for differs: $/, keys: 'wrong\u0015right\r' }],
    });
    assert.equal(once.status, 0, once.output);
    assert.ok(!once.output.includes('Repeat'));
    assert.equal(await get('differs'), 'right');
  });

  it('Ctrl-C at the prompt exits 130 and stores nothing', async () => {
    const r = await nebulaOnTerminal(['put', 'cancelled'], {
      home,
      steps: [{ after: /Value for cancelled: $/, keys: 'abc\u0003' }],
    });
    assert.equal(r.status, 130, r.output);
    assert.match(r.output, /interrupted/);
    assert.equal((await nebula(['exists', 'cancelled'], { home })).status, 1);
  });

  it('an invalid id is refused before anything is asked', async () => {
    const r = await nebulaOnTerminal(['put', '../escape'], { home });
    assert.notEqual(r.status, 0);
    assert.match(r.output, /InvalidId/);
    assert.ok(!r.output.includes('Value for'));
  });

  it('list and describe draw an activity line on a terminal and erase it; a pipe gets none', async () => {
    const tty = await nebulaOnTerminal(['list'], { home });
    assert.equal(tty.status, 0, tty.output);
    assert.match(tty.output, /\r\u001b\[2K. listing the credentials in local/);
    assert.match(tty.output, /\r\u001b\[2Kdiffers\r?\ntyped\r?\n$/, 'erased before the ids are printed');
    const described = await nebulaOnTerminal(['describe', 'typed'], { home });
    assert.equal(described.status, 0, described.output);
    assert.match(described.output, /\r\u001b\[2K. reading "typed" in local.*\r\u001b\[2Kid: +typed/s);
    const piped = await nebula(['list'], { home });
    assert.ok(!piped.stderr.includes('listing'), 'stderr is not a terminal: no activity line');
    assert.equal(piped.stderr, '');
  });
});
