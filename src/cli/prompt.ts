import { StringDecoder } from 'node:string_decoder';
import { InterruptedError, UsageError } from './exit-codes.js';
import type { CliIo } from './io.js';

const ESC = '\u001b';
const BEL = '\u0007';

/** Where the editor is inside a terminal escape sequence. */
type EscapeState = 'none' | 'esc' | 'csi' | 'ss3' | 'string' | 'string-esc';

/** What a chunk of keystrokes did: more is expected, the line was submitted, or Ctrl-C was pressed. */
export type LineEditResult = 'more' | 'done' | 'interrupt';

// Made on the first Backspace, not at load: a Segmenter loads ICU's break data (~8 ms), which every
// command that never prompts (`get` included) would otherwise pay at start-up.
let graphemes: Intl.Segmenter | null | undefined;

/** `text` without its last user-perceived character (a whole emoji or accented letter, not half of one). */
function dropLastCharacter(text: string): string {
  if (text === '') return text;
  graphemes ??=
    typeof Intl.Segmenter === 'function' ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null;
  if (graphemes) {
    let last = 0;
    for (const { index } of graphemes.segment(text)) last = index;
    return text.slice(0, last);
  }
  const points = Array.from(text);
  points.pop();
  return points.join('');
}

/**
 * The line editing of a hidden prompt, fed the keystrokes a raw-mode terminal sends. Keys that move a
 * cursor (arrows, Home, F-keys, Alt-combinations: every escape sequence) are ignored rather than typed into
 * the value, since nothing is echoed and a cursor the user cannot see would only surprise. Backspace
 * removes a whole character (an accented letter or an emoji, however many code points it has), Ctrl-U
 * clears the line, Ctrl-W removes the last word, Enter or Ctrl-D submits, Ctrl-C interrupts. Pasted text
 * between bracketed-paste markers is kept, the markers dropped.
 *
 * @example
 * ```ts
 * const editor = new HiddenLineEditor();
 * editor.feed('abc\u001b[Dd\u007f\r'); // 'done'
 * console.log(editor.value); // 'abc'
 * ```
 */
export class HiddenLineEditor {
  #value = '';
  #escape: EscapeState = 'none';

  /** The text typed so far. */
  get value(): string {
    return this.#value;
  }

  /** Applies a chunk of decoded keystrokes; stops at the first Enter or Ctrl-C. */
  feed(chunk: string): LineEditResult {
    for (const ch of chunk) {
      if (this.#escape !== 'none') {
        this.#continueEscape(ch);
        continue;
      }
      switch (ch) {
        case '\r':
        case '\n':
        case '\u0004':
          return 'done';
        case '\u0003':
          return 'interrupt';
        case ESC:
          this.#escape = 'esc';
          break;
        case '\u007f':
        case '\b':
          this.#value = dropLastCharacter(this.#value);
          break;
        case '\u0015':
          this.#value = '';
          break;
        case '\u0017':
          this.#value = this.#value.replace(/\S*\s*$/u, '');
          break;
        default:
          // Other C0 and C1 control characters (Tab, Ctrl-letters, 8-bit CSI) are not part of a value typed
          // by hand.
          if (ch >= ' ' && !(ch >= '\u0080' && ch <= '\u009f')) this.#value += ch;
      }
    }
    // A lone ESC at the end of what the terminal sent is the Escape key itself, not the start of a sequence
    // (terminals send a sequence in one write).
    if (this.#escape === 'esc') this.#escape = 'none';
    return 'more';
  }

  #continueEscape(ch: string): void {
    switch (this.#escape) {
      case 'esc':
        if (ch === '[') this.#escape = 'csi';
        else if (ch === 'O') this.#escape = 'ss3';
        else if (ch === ']' || ch === 'P' || ch === '_' || ch === '^' || ch === 'X') this.#escape = 'string';
        else if (ch === ESC) this.#escape = 'esc';
        else this.#escape = 'none'; // Alt+key
        return;
      case 'csi': {
        // Parameters and intermediates (0x20-0x3f) continue; a final byte (0x40-0x7e) or anything else ends.
        const code = ch.codePointAt(0) ?? 0;
        if (code < 0x20 || code > 0x3f) this.#escape = 'none';
        return;
      }
      case 'ss3':
        this.#escape = 'none';
        return;
      case 'string':
        if (ch === BEL) this.#escape = 'none';
        else if (ch === ESC) this.#escape = 'string-esc';
        return;
      case 'string-esc':
        this.#escape = ch === '\\' ? 'none' : 'string';
        return;
      default:
        this.#escape = 'none';
    }
  }
}

/** True when the command can ask on a terminal without echo. */
export function canPrompt(io: CliIo): boolean {
  return io.stdin.isTTY === true && typeof io.stdin.setRawMode === 'function';
}

/**
 * Asks on the terminal without echo (raw mode: the typed characters are never written back), prompt on
 * standard error so standard output stays clean. Line editing is {@link HiddenLineEditor}'s; Ctrl-C rejects
 * with InterruptedError.
 */
export function promptHidden(io: CliIo, question: string): Promise<string> {
  const stdin = io.stdin;
  const { setRawMode, on, removeListener } = stdin;
  if (!stdin.isTTY || !setRawMode || !on || !removeListener) {
    return Promise.reject(new Error('promptHidden needs a terminal'));
  }
  return new Promise<string>((resolve, reject) => {
    const editor = new HiddenLineEditor();
    // A multi-byte character can arrive split over two reads.
    const decoder = new StringDecoder('utf8');
    const finish = (error?: Error) => {
      removeListener.call(stdin, 'data', onData);
      setRawMode.call(stdin, false);
      stdin.pause?.();
      io.stderr.write('\n');
      if (error) reject(error);
      else resolve(editor.value);
    };
    const onData = (chunk: Buffer) => {
      const result = editor.feed(decoder.write(chunk));
      if (result === 'done') finish();
      else if (result === 'interrupt') finish(new InterruptedError());
    };
    // Raw mode before the question: keys typed as soon as it shows must not be echoed by the terminal.
    setRawMode.call(stdin, true);
    on.call(stdin, 'data', onData);
    io.stderr.write(question);
    stdin.resume?.();
  });
}

/**
 * Asks for a new secret twice, as `pass insert` does, so a typo typed blind is caught before it is stored;
 * `confirm: false` asks once. Different answers are a usage error of `command`.
 */
export async function promptNewSecret(
  io: CliIo,
  options: {
    question: string;
    repeat: string;
    /** Plural, for the message: "values", "passphrases". */
    what: string;
    command: string;
    confirm: boolean;
    /** Checks the first answer before the second is asked for (throw to refuse it). */
    check?: (answer: string) => void;
  },
): Promise<string> {
  const first = await promptHidden(io, options.question);
  options.check?.(first);
  if (!options.confirm) return first;
  const second = await promptHidden(io, options.repeat);
  if (first !== second) {
    throw new UsageError(`the two ${options.what} differ (nothing was changed)`, options.command);
  }
  return first;
}

/** Reads all of standard input into one buffer (the caller wipes it). */
export async function readAll(
  input: AsyncIterable<string | Uint8Array>,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of input) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
    length += chunks.at(-1)!.length;
    // Stop at the bound: an endless pipe (`yes | put`, /dev/zero) must not fill memory.
    if (length >= maxBytes) break;
  }
  const all = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  return all;
}
