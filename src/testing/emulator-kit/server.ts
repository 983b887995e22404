import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type Clock, systemClock } from '../../core/clock.js';
import { createTestCertificateAuthority, type TestCertificateAuthority } from './tls.js';

/** One request as the emulator received it. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Path and query string, as sent. */
  url: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** Emulator clock time of arrival. */
  time: number;
  /**
   * The TLS client certificate the connection presented, when the server asks for one
   * (`clientCertificates`): its subject CN and O values, and whether it chains to the emulator's CA.
   */
  clientCertificate?: { commonName: string; organizations: string[]; authorized: boolean } | undefined;
}

/** What an injected fault does to a matching request. */
export type FaultAction =
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: 'reset' }
  /**
   * The request is carried out (its change committed), then the connection drops before any answer: the
   * lost response after which a client's retry meets its own write.
   */
  | { kind: 'lose-answer' }
  | { kind: 'hang' }
  | { kind: 'delay'; ms: number }
  /**
   * A body of exactly `bytes` bytes (JSON padded with `a`), streamed as the client reads it, with or without
   * a Content-Length: for the bounds clients must put on response sizes. Default status 200.
   */
  | { kind: 'body'; bytes: number; status?: number; contentLength?: boolean };

/** A fault for upcoming requests. */
export interface Fault {
  action: FaultAction;
  /** How many matching requests it affects. Default 1; `Infinity` for all. */
  times?: number;
  /** Which requests (default: all). */
  match?: (request: RecordedRequest) => boolean;
}

/**
 * Queue of faults an emulator applies before its normal handling: error statuses (503, 429 with
 * Retry-After, ...), connection resets, hangs and delays.
 *
 * @example
 * ```ts
 * emulator.faults.add({ action: { kind: 'status', status: 503 }, times: 2 });
 * emulator.faults.add({ action: { kind: 'reset' }, match: (r) => r.method === 'GET' });
 * ```
 */
export class FaultInjector {
  #faults: (Fault & { remaining: number })[] = [];

  /**
   * Queues `fault`: the next `times` (default 1) requests it matches get its action instead of a normal
   * answer.
   */
  add(fault: Fault): void {
    this.#faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  /** Drops every queued fault. */
  clear(): void {
    this.#faults = [];
  }

  /** How many faults are still queued. */
  get pending(): number {
    return this.#faults.length;
  }

  /** The action for `request`, consuming one use of the first matching fault. */
  take(request: RecordedRequest): FaultAction | undefined {
    const fault = this.#faults.find((f) => !f.match || f.match(request));
    if (!fault) return undefined;
    fault.remaining--;
    if (fault.remaining <= 0) this.#faults.splice(this.#faults.indexOf(fault), 1);
    return fault.action;
  }
}

/** Options of {@link EmulatorHttpServer}. */
export interface EmulatorServerOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number | undefined;
  /** Loopback address to bind. Default `127.0.0.1`. */
  host?: string | undefined;
  /** Serve https: `true` generates a CA, or pass one to share. Default false. */
  tls?: boolean | TestCertificateAuthority | undefined;
  /** The emulator's clock (TTLs, expiry, timestamps). Default: the system clock. */
  clock?: Clock | undefined;
  /**
   * Ask https clients for a certificate (not require one, as a Kubernetes API server does) and record it on
   * each request, verified against the emulator's CA. Default false.
   */
  clientCertificates?: boolean | undefined;
}

/** Handles one request (after faults); the body is already read. */
export type EmulatorHandler = (request: RecordedRequest, response: ServerResponse) => Promise<void> | void;

/**
 * The loopback HTTP(S) server under every emulator: records requests, counts TCP connections, applies
 * injected faults, then calls the emulator's handler. Binds to loopback only.
 *
 * @example
 * ```ts
 * const server = new EmulatorHttpServer({ tls: true }, (req, res) => { res.end('ok'); });
 * const { url } = await server.start();
 * // ... await server.stop();
 * ```
 */
export class EmulatorHttpServer {
  /** Every request received, in order (method, path, headers, body), for tests to inspect. */
  readonly requests: RecordedRequest[] = [];
  /** The faults applied before normal handling: statuses, resets, hangs, delays. */
  readonly faults = new FaultInjector();
  /** The clock the emulator stamps times with (a ManualClock in tests). */
  readonly clock: Clock;
  /** The test certificate authority when it serves https (clients trust `ca.certPem`), else `undefined`. */
  readonly ca: TestCertificateAuthority | undefined;
  /** TCP (or TLS) connections accepted so far. */
  connections = 0;
  /** Bytes of `body` faults handed to the network so far (what a client that stops early never read). */
  streamedBodyBytes = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #options: EmulatorServerOptions;
  /** The CA was generated here (`tls: true`), so stop() removes its files; a CA passed in is its owner's. */
  readonly #ownsCa: boolean;
  #url: string | undefined;

  /**
   * A server that records each request, applies queued faults, then passes it to `handler`; nothing listens
   * until `start()`.
   */
  constructor(options: EmulatorServerOptions, handler: EmulatorHandler) {
    this.#options = options;
    this.clock = options.clock ?? systemClock;
    this.#ownsCa = options.tls === true;
    this.ca = options.tls === true ? createTestCertificateAuthority() : options.tls || undefined;
    const listener = (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res, handler).catch((error: unknown) => {
        if (!res.headersSent) {
          res.statusCode = 500;
          res.setHeader('content-type', 'application/json');
        }
        res.end(JSON.stringify({ error: `emulator failure: ${(error as Error).message}` }));
      });
    };
    this.#server = this.ca
      ? createHttpsServer(
          {
            cert: this.ca.serverCertPem,
            key: this.ca.serverKeyPem,
            ...(options.clientCertificates
              ? { requestCert: true, rejectUnauthorized: false, ca: this.ca.caCertPem }
              : {}),
          },
          listener,
        )
      : createHttpServer(listener);
    this.#server.keepAliveTimeout = 30_000;
    this.#server.on(this.ca ? 'secureConnection' : 'connection', (socket: Socket) => {
      this.connections++;
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  /** Base URL, e.g. `https://127.0.0.1:41234`. */
  get url(): string {
    if (!this.#url) throw new Error('emulator not started');
    return this.#url;
  }

  /** Listens (on a free loopback port unless `port` is given) and returns the URL and port. */
  async start(): Promise<{ url: string; port: number }> {
    const host = this.#options.host ?? '127.0.0.1';
    const { port } = await listenOn(this.#server, this.#options.port ?? 0, host);
    const shownHost = host.includes(':') ? `[${host}]` : host;
    this.#url = `${this.ca ? 'https' : 'http'}://${shownHost}:${port}`;
    return { url: this.#url, port };
  }

  /**
   * Serves a connection another listener accepted (and, for TLS, already decrypted) instead of listening
   * itself: a front door that speaks several protocols on one port, as Google's endpoints serve gRPC and
   * REST on :443, hands the HTTP/1.1 ones here. `url` is the front door's base URL.
   *
   * @example
   * ```ts
   * const rest = new EmulatorHttpServer({}, handler);
   * tlsServer.on('secureConnection', (socket) => rest.serveConnection(socket, 'https://127.0.0.1:8443'));
   * ```
   */
  serveConnection(socket: Socket, url: string): void {
    this.#url ??= url;
    this.#server.emit(this.ca ? 'secureConnection' : 'connection', socket);
  }

  /** Closes every connection and the server, and removes the files of a CA it generated. Idempotent. */
  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    if (this.#ownsCa) this.ca?.dispose();
  }

  /** Number of recorded requests matching `predicate` (all when omitted). */
  count(predicate?: (request: RecordedRequest) => boolean): number {
    return predicate ? this.requests.filter(predicate).length : this.requests.length;
  }

  async #streamBody(res: ServerResponse, action: Extract<FaultAction, { kind: 'body' }>): Promise<void> {
    const head = Buffer.from('{"data":{"data":{"pad":"');
    const tail = Buffer.from('"}}}');
    const pad = Buffer.alloc(64 * 1024, 0x61);
    res.statusCode = action.status ?? 200;
    res.setHeader('content-type', 'application/json');
    if (action.contentLength) res.setHeader('content-length', action.bytes);
    let left = action.bytes;
    const send = async (chunk: Buffer) => {
      if (res.destroyed) return;
      this.streamedBodyBytes += chunk.length;
      left -= chunk.length;
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          // One pair of listeners per wait, removed after it: a long body waits thousands of times.
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.once('drain', done);
          res.once('close', done);
        });
      }
    };
    await send(head.subarray(0, Math.min(head.length, left)));
    while (left > tail.length && !res.destroyed)
      await send(pad.subarray(0, Math.min(pad.length, left - tail.length)));
    if (!res.destroyed) {
      await send(tail.subarray(0, left));
      res.end();
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse, handler: EmulatorHandler): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://emulator');
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      url: req.url ?? '/',
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks),
      time: this.clock.now(),
      clientCertificate: this.#options.clientCertificates
        ? peerCertificate(req.socket as TLSSocket)
        : undefined,
    };
    this.requests.push(request);
    const action = this.faults.take(request);
    if (action?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (action?.kind === 'lose-answer') {
      const socket = req.socket;
      const drop = () => {
        socket.destroy();
        return res;
      };
      // Whatever the handler writes goes nowhere; its end drops the connection instead.
      res.writeHead = drop as never;
      res.write = (() => true) as never;
      res.end = drop as never;
      await handler(request, res);
      socket.destroy();
      return;
    }
    if (action?.kind === 'hang') return; // never answered; the socket is destroyed on stop()
    if (action?.kind === 'delay') await new Promise((r) => setTimeout(r, action.ms));
    if (action?.kind === 'body') {
      await this.#streamBody(res, action);
      return;
    }
    if (action?.kind === 'status') {
      res.statusCode = action.status;
      for (const [k, v] of Object.entries(action.headers ?? {})) res.setHeader(k, v);
      if (action.body === undefined) res.end();
      else {
        if (!res.hasHeader('content-type')) res.setHeader('content-type', 'application/json');
        res.end(typeof action.body === 'string' ? action.body : JSON.stringify(action.body));
      }
      return;
    }
    await handler(request, res);
  }
}

/** The client certificate of a TLS connection, if it presented one. */
function peerCertificate(socket: TLSSocket): RecordedRequest['clientCertificate'] {
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
  if (!peer?.subject) return undefined;
  const values = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  return {
    commonName: values(peer.subject.CN)[0] ?? '',
    organizations: values(peer.subject.O),
    authorized: socket.authorized,
  };
}

/**
 * Listens on `port` of `host` (0: a free port). Rejects with Node's own listen error, whose `code`
 * (`EADDRINUSE`, `EACCES`), `address` and `port` fields say why; the error listener is removed either way.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { listenOn } from 'nebula-credential/testing';
 * const { port } = await listenOn(createServer(), 0, '127.0.0.1');
 * ```
 */
export async function listenOn(server: NetServer, port: number, host: string): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

/**
 * Writes a JSON response with its length.
 *
 * @example
 * ```ts
 * import { EmulatorHttpServer, sendJson } from 'nebula-credential/testing';
 * const server = new EmulatorHttpServer({}, (_req, res) => sendJson(res, 200, { ok: true }));
 * ```
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * A loopback port that nothing listens on (bound, then released), for connection-refused tests.
 *
 * @example
 * ```ts
 * import { closedLoopbackPort } from 'nebula-credential/testing';
 * const url = `https://127.0.0.1:${await closedLoopbackPort()}`; // connecting gives ECONNREFUSED
 * ```
 */
export async function closedLoopbackPort(): Promise<number> {
  const server = createNetServer();
  const { port } = await listenOn(server, 0, '127.0.0.1');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
