// A loopback CONNECT proxy for the proxy tests of every provider.

import assert from 'node:assert/strict';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { inspect } from 'node:util';
import type { StorageError } from '../../src/core/errors.js';

/** The proxy password in {@link TestProxy.url}: it must reach no message. */
export const SENTINEL = 'proxy-pass-SENTINEL-7f3a';
/** How the proxy answers CONNECT. */
export type Mode = 'tunnel' | 'deny-407' | 'endless-head' | 'hang';

/** A loopback CONNECT proxy: counts tunnels, records Proxy-Authorization, sends every target to 127.0.0.1. */
export class TestProxy {
  mode: Mode = 'tunnel';
  tunnels = 0;
  targets: string[] = [];
  authorizations: (string | undefined)[] = [];
  /** CONNECTs with a (Proxy-)Connection header: https-proxy-agent and hpagent send one, the core tunnel none. */
  foreignClients = 0;
  headBytesSent = 0;
  readonly server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(tls?: { cert: string; key: string }) {
    const handle = (client: Socket) => this.#handle(client);
    this.server = tls ? createTlsServer(tls, handle) : createServer(handle);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  url(scheme = 'http', auth = `user:${SENTINEL}`): string {
    const { port } = this.server.address() as { port: number };
    return `${scheme}://${auth ? `${auth}@` : ''}127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #handle(client: Socket): void {
    this.#sockets.add(client);
    client.on('close', () => this.#sockets.delete(client));
    client.on('error', () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      client.off('data', onData);
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      const [method, target] = lines[0]!.split(' ');
      const auth = lines.find((l) => /^proxy-authorization:/i.test(l))?.replace(/^[^:]+:\s*/, '');
      this.authorizations.push(auth);
      if (lines.some((l) => /^(proxy-)?connection:/i.test(l))) this.foreignClients++;
      if (method !== 'CONNECT' || !target) return void client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      this.targets.push(target);
      if (this.mode === 'hang') return;
      if (this.mode === 'deny-407')
        return void client.end(
          'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n',
        );
      if (this.mode === 'endless-head') return this.#endless(client);
      const port = Number(target.slice(target.lastIndexOf(':') + 1));
      const upstream = netConnect({ host: '127.0.0.1', port }, () => {
        this.tunnels++;
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  }

  // A status line, then header lines forever: a client without a bound would buffer until it ran out.
  #endless(client: Socket): void {
    client.write('HTTP/1.1 200 OK\r\n');
    const line = Buffer.from(`X-Filler: ${'a'.repeat(1000)}\r\n`);
    const pump = () => {
      while (!client.destroyed && this.headBytesSent < 64 * 1024 * 1024) {
        this.headBytesSent += line.length;
        if (!client.write(line)) return void client.once('drain', pump);
      }
    };
    pump();
  }
}

/** Asserts the proxy password is nowhere in `error`. */
export function assertNoSentinel(error: StorageError): void {
  assert.ok(!error.message.includes(SENTINEL), error.message);
  assert.ok(!inspect(error, { depth: 8 }).includes(SENTINEL));
  assert.ok(!JSON.stringify(error).includes(SENTINEL));
}
