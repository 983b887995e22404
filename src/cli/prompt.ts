import { InterruptedError } from './exit-codes.js';
import type { CliIo } from './io.js';

/**
 * Asks on the terminal without echo (raw mode: the typed characters are never written back), prompt on
 * standard error so standard output stays clean. Ctrl-C aborts; Backspace works.
 */
export function promptHidden(io: CliIo, question: string): Promise<string> {
  const stdin = io.stdin;
  const { setRawMode, on, removeListener } = stdin;
  if (!stdin.isTTY || !setRawMode || !on || !removeListener) {
    return Promise.reject(new Error('promptHidden needs a terminal'));
  }
  io.stderr.write(question);
  return new Promise<string>((resolve, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      removeListener.call(stdin, 'data', onData);
      setRawMode.call(stdin, false);
      stdin.pause?.();
      io.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new InterruptedError());
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    setRawMode.call(stdin, true);
    on.call(stdin, 'data', onData);
    stdin.resume?.();
  });
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
