import { createServer as createNetServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { listenOn } from '../emulator-kit/server.js';

/** Header the front adds to a request that arrived with the `LIST` verb, so the emulator can record it. */
export const ORIGINAL_VERB_HEADER = 'x-vault-emulator-verb';

const MAX_HEAD_BYTES = 64 * 1024;

/**
 * A byte-level HTTP/1.1 front for the Vault emulator. Node's HTTP parser (llhttp) refuses the `LIST`
 * method that Vault's own clients send (the Vault CLI, hvac, node-vault), so this front frames each request
 * on the connection (head, then a Content-Length or chunked body), rewrites `LIST /p` to
 * `GET /p?list=true` exactly as Vault's router treats them, and passes everything else through unchanged.
 * Each client connection maps to one connection to the inner HTTP server, so keep-alive and the connection
 * count are preserved. TLS terminates here.
 */
export class ListRewritingFront {
  /** Client connections accepted (after the TLS handshake for https). */
  connections = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(backendPort: number, tls?: { cert: string; key: string }) {
    const onClient = (client: Socket) => {
      this.connections++;
      this.#sockets.add(client);
      const backend = netConnect(backendPort, '127.0.0.1');
      this.#sockets.add(backend);
      backend.setNoDelay(true);
      client.setNoDelay?.(true);
      const framer = new RequestFramer((bytes) => backend.write(bytes));
      client.on('data', (chunk: Buffer) => {
        if (!framer.push(chunk)) client.destroy();
      });
      backend.pipe(client);
      const close = () => {
        client.destroy();
        backend.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(backend);
      };
      client.on('close', close);
      backend.on('close', close);
      client.on('error', close);
      backend.on('error', close);
    };
    this.#server = tls
      ? createTlsServer({ cert: tls.cert, key: tls.key }, onClient)
      : createNetServer(onClient);
    // Handshake failures (a client with the wrong CA) are the client's business; keep serving.
    this.#server.on('tlsClientError', () => {});
  }

  async listen(port: number, host: string): Promise<number> {
    return (await listenOn(this.#server, port, host)).port;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

type Mode = 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'trailer';

/** Splits a client byte stream into HTTP/1.1 requests and rewrites the request line of `LIST` ones. */
export class RequestFramer {
  #buffer: Buffer = Buffer.alloc(0);
  #mode: Mode = 'head';
  #remaining = 0;
  readonly #out: (bytes: Buffer) => void;

  constructor(out: (bytes: Buffer) => void) {
    this.#out = out;
  }

  /** Feeds bytes; returns false when the stream is not HTTP/1.1 the front can frame. */
  push(chunk: Buffer): boolean {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#mode === 'head') {
        while (this.#buffer.length >= 2 && this.#buffer[0] === 13 && this.#buffer[1] === 10) {
          this.#buffer = this.#buffer.subarray(2);
        }
        const end = this.#buffer.indexOf('\r\n\r\n');
        if (end < 0) return this.#buffer.length <= MAX_HEAD_BYTES;
        const head = this.#buffer.subarray(0, end + 4).toString('latin1');
        this.#buffer = this.#buffer.subarray(end + 4);
        const { text, chunked, length } = rewriteHead(head);
        this.#out(Buffer.from(text, 'latin1'));
        if (chunked) this.#mode = 'chunk-size';
        else if (length > 0) {
          this.#mode = 'body';
          this.#remaining = length;
        }
        continue;
      }
      if (this.#mode === 'body' || this.#mode === 'chunk-data') {
        if (this.#buffer.length === 0) return true;
        const n = Math.min(this.#remaining, this.#buffer.length);
        this.#out(this.#buffer.subarray(0, n));
        this.#buffer = this.#buffer.subarray(n);
        this.#remaining -= n;
        if (this.#remaining === 0) this.#mode = this.#mode === 'body' ? 'head' : 'chunk-size';
        continue;
      }
      const eol = this.#buffer.indexOf('\r\n');
      if (eol < 0) return this.#buffer.length <= MAX_HEAD_BYTES;
      const line = this.#buffer.subarray(0, eol + 2);
      this.#buffer = this.#buffer.subarray(eol + 2);
      this.#out(line);
      if (this.#mode === 'chunk-size') {
        const size = Number.parseInt(line.toString('latin1').split(';')[0]!.trim(), 16);
        if (!Number.isFinite(size) || size < 0) return false;
        if (size === 0) this.#mode = 'trailer';
        else {
          this.#mode = 'chunk-data';
          this.#remaining = size + 2;
        }
      } else if (line.length === 2) {
        this.#mode = 'head';
      }
    }
  }
}

function rewriteHead(head: string): { text: string; chunked: boolean; length: number } {
  const firstEnd = head.indexOf('\r\n');
  let requestLine = head.slice(0, firstEnd);
  let rest = head.slice(firstEnd + 2);
  const match = /^LIST (\S+) (HTTP\/1\.[01])$/i.exec(requestLine);
  if (match) {
    const target = match[1]!;
    requestLine = `GET ${target}${target.includes('?') ? '&' : '?'}list=true ${match[2]}`;
    rest = `${ORIGINAL_VERB_HEADER}: LIST\r\n${rest}`;
  }
  let chunked = false;
  let length = 0;
  for (const line of rest.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'transfer-encoding' && /chunked/i.test(value)) chunked = true;
    if (name === 'content-length') length = Number.parseInt(value, 10) || 0;
  }
  return { text: `${requestLine}\r\n${rest}`, chunked, length };
}
