import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Pool } from 'undici';
import { ResponseTooLargeError } from '../../src/core/response-limit.js';
import { dispatchBounded } from '../../src/core/undici-exchange.js';

const LIMIT = 64 * 1024;
let server: Server;
let origin: string;
let connections = 0;

/** Routes of the test server: each answers one way a real or hostile server can. */
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/json': (_req, res) => res.end('{"ok":true}'),
  '/gzip': (_req, res) => {
    res.setHeader('content-encoding', 'gzip');
    res.end(gzipSync('{"compressed":true}'));
  },
  // 1 MiB of zeros gzips to about 1 KiB: small on the wire, over the bound once inflated.
  '/bomb': (_req, res) => {
    res.setHeader('content-encoding', 'gzip');
    res.end(gzipSync(Buffer.alloc(1024 * 1024)));
  },
  '/zstd': (_req, res) => {
    res.setHeader('content-encoding', 'compress');
    res.end('x');
  },
  '/announced': (_req, res) => {
    res.setHeader('content-length', String(LIMIT + 1));
    res.flushHeaders();
  },
  '/endless': (_req, res) => {
    const chunk = Buffer.alloc(16 * 1024, 97);
    const pump = () => {
      while (res.write(chunk)) {}
      res.once('drain', pump);
    };
    pump();
    res.on('close', () => res.removeAllListeners('drain'));
  },
  '/hang': () => {},
};

before(async () => {
  server = createServer((req, res) =>
    (routes[req.url ?? ''] ?? ((_q, r) => r.writeHead(404).end()))(req, res),
  );
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const get = (pool: Pool, path: string, stop?: Parameters<typeof dispatchBounded>[3]) =>
  dispatchBounded(pool, { origin, path, method: 'GET' }, LIMIT, stop);

describe('dispatchBounded: one bounded undici exchange', () => {
  it('reads status, headers and the whole body', async () => {
    const pool = new Pool(origin, { connections: 1 });
    const res = await get(pool, '/json');
    assert.equal(res.status, 200);
    assert.equal(res.statusText, 'OK');
    assert.deepEqual(JSON.parse(res.body.toString()), { ok: true });
    assert.equal(res.headers['content-length'], '11');
    await pool.destroy();
  });

  it('decodes a body that comes compressed, within the same bound, and refuses an unknown encoding', async () => {
    const pool = new Pool(origin, { connections: 1 });
    assert.deepEqual(JSON.parse((await get(pool, '/gzip')).body.toString()), { compressed: true });
    const bomb = await get(pool, '/bomb').then(
      () => assert.fail('the bomb was inflated'),
      (error: unknown) => error,
    );
    assert.ok(bomb instanceof ResponseTooLargeError, String(bomb));
    assert.equal(bomb.limit, LIMIT);
    await assert.rejects(get(pool, '/zstd'), { code: 'ERR_NEBULA_CONTENT_ENCODING' });
    await pool.destroy();
  });

  it('cuts an announced and a streamed body over the bound, and the pool still serves the next request', async () => {
    const pool = new Pool(origin, { connections: 1 });
    const announced = await get(pool, '/announced').catch((error: unknown) => error);
    assert.ok(announced instanceof ResponseTooLargeError && announced.announced, String(announced));
    const streamed = await get(pool, '/endless').catch((error: unknown) => error);
    assert.ok(streamed instanceof ResponseTooLargeError && !streamed.announced, String(streamed));
    assert.ok(streamed.size > LIMIT);
    assert.equal((await get(pool, '/json')).status, 200);
    await pool.destroy();
  });

  it('stops by the attempt, by a signal and by a timeout, and a stopped request frees its connection', async () => {
    const pool = new Pool(origin, { connections: 1 });
    const reason = new Error('deadline');
    let stop: ((reason: Error) => void) | undefined;
    const attempt = {
      onStop(listener: (reason: Error) => void) {
        stop = listener;
        return () => {
          stop = undefined;
        };
      },
    };
    const before = connections;
    const hung = get(pool, '/hang', { attempt });
    await new Promise((resolve) => setTimeout(resolve, 50));
    stop?.(reason);
    await assert.rejects(hung, (error) => error === reason);
    // One connection: this request can only go out because the hung one was dropped.
    assert.equal((await get(pool, '/json')).status, 200);
    assert.equal(connections, before + 2, 'the stopped request took its connection with it');

    const controller = new AbortController();
    controller.abort(new Error('caller'));
    await assert.rejects(get(pool, '/json', { signal: controller.signal }), { message: 'caller' });
    await assert.rejects(get(pool, '/hang', { timeoutMs: 50 }), { name: 'AbortError' });
    assert.equal((await get(pool, '/json')).status, 200);
    assert.equal(stop, undefined, 'the settled request removed its stop listener');
    await pool.destroy();
  });
});
