import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { EncryptionManager } from '../../src/core/crypto.js';
import { responseBodyLimit } from '../../src/core/response-limit.js';
import { CredentialStore } from '../../src/core/store.js';
import type { CredentialChange } from '../../src/core/watch.js';
import { KubernetesSecretsProvider } from '../../src/providers/kubernetes-secrets.js';
import { KubernetesEmulator } from '../../src/testing/emulators/kubernetes.js';

const k8s = new KubernetesEmulator({ namespaces: ['watch'] });

before(async () => {
  await k8s.start();
});
after(async () => {
  await k8s.stop();
});

interface WatchEventLine {
  type: string;
  object: {
    metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string> };
    code?: number;
    reason?: string;
    message?: string;
    kind?: string;
  };
}

/** A raw watch stream: collects event lines; `take(n)` waits until n have arrived. */
class RawWatch {
  readonly events: WatchEventLine[] = [];
  status = 0;
  ended = false;
  #res: IncomingMessage | undefined;
  #waiters: (() => void)[] = [];
  readonly opened: Promise<void>;

  constructor(path: string, token = k8s.adminToken) {
    this.opened = new Promise((resolve, reject) => {
      const req = request(
        new URL(path, k8s.url),
        { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, ca: k8s.caCertPem },
        (res) => {
          this.#res = res;
          this.status = res.statusCode ?? 0;
          const lines = createInterface({ input: res });
          lines.on('line', (line) => {
            if (line.trim() === '') return;
            this.events.push(JSON.parse(line) as WatchEventLine);
            this.#notify();
          });
          res.on('end', () => {
            this.ended = true;
            this.#notify();
          });
          resolve();
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  async take(count: number): Promise<WatchEventLine[]> {
    while (this.events.length < count && !this.ended) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.events.slice(0, count);
  }

  async untilEnded(): Promise<void> {
    while (!this.ended) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  close(): void {
    this.#res?.destroy();
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

// putSecret fills in uid, resourceVersion and the rest, as the API server does.
const secret = (name: string, labels: Record<string, string> = {}, value = name) =>
  ({ metadata: { name, labels }, data: { k: Buffer.from(value).toString('base64') } }) as never;

describe('kubernetes emulator: the watch API', () => {
  it('starts with ADDED for the current objects, then streams changes with rising resourceVersions', async () => {
    k8s.putSecret('watch', secret('w-existing'));
    const watch = new RawWatch('/api/v1/namespaces/watch/secrets?watch=true');
    await watch.opened;
    assert.equal(watch.status, 200);
    const [initial] = await watch.take(1);
    assert.equal(initial?.type, 'ADDED');
    assert.equal(initial?.object.metadata?.name, 'w-existing');
    k8s.putSecret('watch', secret('w-new'));
    k8s.putSecret('watch', secret('w-new', {}, 'changed'));
    const removedAt = Number(k8s.resourceVersion) + 1;
    await deleteSecret('watch', 'w-new');
    const events = await watch.take(4);
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.metadata?.name}`),
      ['ADDED w-existing', 'ADDED w-new', 'MODIFIED w-new', 'DELETED w-new'],
    );
    const versions = events.slice(1).map((e) => Number(e.object.metadata?.resourceVersion));
    assert.ok(versions[0]! < versions[1]! && versions[1]! < versions[2]!, versions.join());
    assert.equal(versions[2], removedAt, 'DELETED carries the resourceVersion of the delete');
    watch.close();
  });

  it('resumes from a resourceVersion: replays only what came after it', async () => {
    k8s.putSecret('watch', secret('r-one'));
    const from = k8s.resourceVersion;
    k8s.putSecret('watch', secret('r-two'));
    k8s.putSecret('watch', secret('r-three'));
    const watch = new RawWatch(`/api/v1/namespaces/watch/secrets?watch=true&resourceVersion=${from}`);
    const events = await watch.take(2);
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.metadata?.name}`),
      ['ADDED r-two', 'ADDED r-three'],
    );
    watch.close();
  });

  it('answers a compacted resourceVersion with an ERROR event carrying 410 Expired, then ends', async () => {
    const old = k8s.resourceVersion;
    k8s.putSecret('watch', secret('c-one'));
    k8s.compactWatchHistory();
    const watch = new RawWatch(`/api/v1/namespaces/watch/secrets?watch=true&resourceVersion=${old}`);
    await watch.opened;
    assert.equal(watch.status, 200, 'a watch reports Expired in the stream, not as the HTTP status');
    await watch.untilEnded();
    assert.equal(watch.events.length, 1);
    const [error] = watch.events;
    assert.equal(error?.type, 'ERROR');
    assert.equal(error?.object.kind, 'Status');
    assert.equal(error?.object.code, 410);
    assert.equal(error?.object.reason, 'Expired');
    assert.match(error?.object.message ?? '', /^too old resource version: \d+ \(\d+\)$/);
    // The current version is still fine.
    const fresh = new RawWatch(
      `/api/v1/namespaces/watch/secrets?watch=true&resourceVersion=${k8s.resourceVersion}`,
    );
    await fresh.opened;
    k8s.putSecret('watch', secret('c-two'));
    assert.equal((await fresh.take(1))[0]?.object.metadata?.name, 'c-two');
    fresh.close();
  });

  it('applies selectors before and after each change: leaving is DELETED, entering is ADDED', async () => {
    const watch = new RawWatch(
      `/api/v1/namespaces/watch/secrets?watch=true&resourceVersion=${k8s.resourceVersion}&labelSelector=team%3Dblue`,
    );
    await watch.opened;
    k8s.putSecret('watch', secret('s-one', { team: 'blue' }));
    k8s.putSecret('watch', secret('s-other', { team: 'red' }));
    k8s.putSecret('watch', secret('s-one', { team: 'red' }));
    k8s.putSecret('watch', secret('s-one', { team: 'blue' }));
    const events = await watch.take(3);
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.metadata?.name} ${e.object.metadata?.labels?.['team']}`),
      ['ADDED s-one blue', 'DELETED s-one blue', 'ADDED s-one blue'],
    );
    watch.close();
    const named = new RawWatch(
      `/api/v1/namespaces/watch/secrets?watch=true&fieldSelector=metadata.name%3Ds-other`,
    );
    const [only] = await named.take(1);
    assert.equal(only?.object.metadata?.name, 's-other');
    named.close();
  });

  it('sends BOOKMARKs only to watches that allow them, and ends streams on request', async () => {
    const withMarks = new RawWatch(
      `/api/v1/namespaces/watch/secrets?watch=true&resourceVersion=${k8s.resourceVersion}&allowWatchBookmarks=true`,
    );
    const without = new RawWatch(
      `/api/v1/namespaces/watch/secrets?watch=true&resourceVersion=${k8s.resourceVersion}`,
    );
    await Promise.all([withMarks.opened, without.opened]);
    k8s.sendBookmarks();
    const [mark] = await withMarks.take(1);
    assert.equal(mark?.type, 'BOOKMARK');
    assert.equal(mark?.object.metadata?.resourceVersion, k8s.resourceVersion);
    k8s.closeWatches();
    await Promise.all([withMarks.untilEnded(), without.untilEnded()]);
    assert.equal(without.events.length, 0);
    assert.equal(k8s.openWatches, 0);
  });

  it('needs the watch verb: a service account without it gets 403 Forbidden', async () => {
    const token = k8s.createServiceAccount('watch', 'reader');
    k8s.grant('watch', 'reader', ['get', 'list']);
    const watch = new RawWatch('/api/v1/namespaces/watch/secrets?watch=true', token);
    await watch.opened;
    assert.equal(watch.status, 403);
    await watch.untilEnded();
  });

  it('serves kubectl get --watch (an independent client)', { skip: !hasKubectl() }, async () => {
    const kubeconfig = k8s.writeKubeconfig({ namespace: 'watch' });
    const child = spawn(
      'kubectl',
      ['--kubeconfig', kubeconfig, 'get', 'secrets', '--watch', '--output-watch-events', '-o', 'json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      let out = '';
      let waiting: { text: string; resolve: () => void } | undefined;
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString('utf8');
        if (waiting && out.includes(waiting.text)) waiting.resolve();
      });
      const seen = (text: string) =>
        new Promise<void>((resolve, reject) => {
          if (out.includes(text)) return resolve();
          waiting = { text, resolve };
          child.once('exit', () => reject(new Error(`kubectl exited before printing ${text}: ${out}`)));
        });
      await seen('"w-existing"');
      k8s.putSecret('watch', secret('kubectl-sees-this'));
      await seen('"kubectl-sees-this"');
      const events = out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as WatchEventLine);
      const added = events.filter((e) => e.object.metadata?.name === 'kubectl-sees-this');
      assert.deepEqual(
        added.map((e) => e.type),
        ['ADDED'],
      );
    } finally {
      child.kill();
    }
  });
});

function hasKubectl(): boolean {
  return spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
}

/** Deletes through the API, as a client does. */
function deleteSecret(namespace: string, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(`/api/v1/namespaces/${namespace}/secrets/${name}`, k8s.url),
      { method: 'DELETE', headers: { authorization: `Bearer ${k8s.adminToken}` }, ca: k8s.caCertPem },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('kubernetes provider: the watch feed', () => {
  const setup = async (namespace: string, verbs?: string[]) => {
    const token = k8s.createServiceAccount(namespace, 'app');
    k8s.grant(namespace, 'app', verbs);
    // One manual clock for the store's watch and the provider's reconnection backoff.
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const provider = new KubernetesSecretsProvider({
      kubeconfigPath: k8s.writeKubeconfig({ token, namespace }),
      retry: { maxRetries: 0 },
      clock,
    });
    await provider.connect();
    const key = EncryptionManager.generate();
    const store = new CredentialStore(provider, key, { clock, cache: { ttlMs: 3_600_000 } });
    const writer = new CredentialStore(provider, key);
    const events: CredentialChange[] = [];
    let waiters: (() => void)[] = [];
    const listener = (c: CredentialChange) => {
      events.push(c);
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    };
    const until = async (n: number) => {
      while (events.length < n) await new Promise<void>((r) => waiters.push(r));
    };
    return { provider, store, writer, events, listener, until, clock };
  };

  const watchRequests = (namespace: string) =>
    k8s.requests.filter(
      (r) => r.path === `/api/v1/namespaces/${namespace}/secrets` && r.query.get('watch') === 'true',
    );
  const listRequests = (namespace: string) =>
    k8s.requests.filter(
      (r) =>
        r.path === `/api/v1/namespaces/${namespace}/secrets` && r.method === 'GET' && !r.query.has('watch'),
    );

  it('resumes from the last resourceVersion when the stream ends, without listing again', async () => {
    const f = await setup('feed-resume');
    try {
      await f.writer.put('resumed', 'v1');
      const watch = f.store.watch('resumed', f.listener);
      await watch.ready;
      while (watchRequests('feed-resume').length < 1) await new Promise((r) => setImmediate(r));
      await f.writer.put('resumed', 'v2');
      await f.until(1);
      const lists = listRequests('feed-resume').length;
      const lastVersion = f.events[0]!.version!;
      k8s.closeWatches();
      await f.writer.put('resumed', 'v3');
      await f.until(2);
      const watches = watchRequests('feed-resume');
      assert.equal(
        watches.at(-1)?.query.get('resourceVersion'),
        lastVersion,
        'did not resume from the last version',
      );
      assert.equal(listRequests('feed-resume').length, lists, 'a resumed watch listed again');
      assert.equal((await f.store.get('resumed')).secret.expose(), 'v3');
      await watch.close();
    } finally {
      await f.provider.close();
    }
  });

  it('lists again after 410 Expired and reports what changed while it was away', async () => {
    const f = await setup('feed-expired');
    try {
      await f.writer.put('kept', 'v1');
      await f.writer.put('gone', 'v1');
      const errors: string[] = [];
      const watch = f.store.watch({ tags: {} }, f.listener, { onError: (e) => errors.push(e.code) });
      await watch.ready;
      while (watchRequests('feed-expired').length < 1) await new Promise((r) => setImmediate(r));
      const lists = listRequests('feed-expired').length;
      // Cut the stream and keep the feed out while things change and the history is compacted past them.
      k8s.faults.add({
        action: {
          kind: 'status',
          status: 503,
          body: { kind: 'Status', code: 503, reason: 'ServiceUnavailable' },
        },
        times: Number.POSITIVE_INFINITY,
        match: (r) => r.query.get('watch') === 'true',
      });
      const backoff = f.clock.nextSleep();
      k8s.closeWatches();
      const delay = await backoff;
      await f.writer.delete('gone');
      k8s.compactWatchHistory();
      k8s.faults.clear();
      await f.clock.advance(delay);
      await f.until(1);
      assert.deepEqual(f.events[0], { id: 'gone', kind: 'deleted' });
      assert.ok(errors.includes('Unavailable'), 'the failed reconnection was not reported');
      assert.ok(listRequests('feed-expired').length > lists, 'did not list again after 410 Expired');
      const lastWatch = watchRequests('feed-expired').at(-1)!;
      await f.writer.put('kept', 'v2');
      await f.until(2);
      assert.equal(f.events[1]?.id, 'kept');
      assert.ok(Number(lastWatch.query.get('resourceVersion')) > 0);
      await watch.close();
    } finally {
      await f.provider.close();
    }
  });

  it('reads a refused reconnection answer through the bound: an endless error body is SizeLimitExceeded', async () => {
    const f = await setup('feed-refusal-body');
    try {
      await f.writer.put('bounded', 'v1');
      const errors: { code: string; limit: unknown }[] = [];
      const watch = f.store.watch('bounded', f.listener, {
        onError: (e) => errors.push({ code: e.code, limit: e.details['limit'] }),
      });
      await watch.ready;
      while (watchRequests('feed-refusal-body').length < 1) await new Promise((r) => setImmediate(r));
      // 64 MiB without Content-Length on a 500: read whole before, it would be buffered to the end.
      k8s.faults.add({
        action: { kind: 'body', bytes: 64 * 1024 * 1024, status: 500, contentLength: false },
        times: 1,
        match: (r) => r.query.get('watch') === 'true',
      });
      const backoff = f.clock.nextSleep();
      k8s.closeWatches();
      await backoff;
      assert.deepEqual(errors.at(-1), {
        code: 'SizeLimitExceeded',
        limit: responseBodyLimit(f.provider.capabilities.maxCredentialSize),
      });
      await watch.close();
    } finally {
      await f.provider.close();
    }
  });

  it('falls back to polling when RBAC does not grant watch', async () => {
    const f = await setup('feed-no-watch', ['get', 'list', 'create', 'update', 'delete']);
    try {
      await f.writer.put('polled', 'v1');
      const errors: string[] = [];
      const watch = f.store.watch('polled', f.listener, {
        intervalMs: 1_000,
        jitter: 0,
        onError: (e) => errors.push(e.code),
      });
      await watch.ready;
      while (!errors.includes('PermissionDenied')) await new Promise((r) => setImmediate(r));
      await f.writer.put('polled', 'v2');
      while (f.events.length === 0) {
        const slept = f.clock.nextSleep();
        await f.clock.advance(1_000);
        await slept;
      }
      assert.equal(f.events[0]?.kind, 'changed');
      await watch.close();
    } finally {
      await f.provider.close();
    }
  });
});

describe('KubernetesChangeFeed: a bounded watch stream', () => {
  it('refuses an event line over its bound before buffering it whole, and reconnects', async () => {
    const { PassThrough } = await import('node:stream');
    const { KubernetesChangeFeed } = await import('../../src/providers/kubernetes-secrets-watch.js');
    const { StorageError } = await import('../../src/core/errors.js');
    const errors: unknown[] = [];
    let opened = 0;
    let written = 0;
    const limit = 64 * 1024;
    const feed = new KubernetesChangeFeed(
      {
        list: async () => ({ items: [], resourceVersion: '1' }),
        open: async () => {
          opened++;
          const stream = new PassThrough();
          // One endless event: 1 MiB sent in 16 KiB chunks with no newline, far over the 64 KiB bound.
          const chunk = Buffer.alloc(16 * 1024, 'a');
          const pump = () => {
            while (written < 1024 * 1024 && !stream.destroyed) {
              written += chunk.length;
              if (!stream.write(chunk)) return void stream.once('drain', pump);
            }
          };
          pump();
          return stream as unknown as IncomingMessage;
        },
        observe: () => undefined,
        idOf: () => undefined,
        maxEventBytes: limit,
      },
      { observe: () => {}, wake: () => {}, error: (error) => void errors.push(error) },
      new ManualClock(),
    );
    for (let i = 0; i < 200 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    feed.close();
    assert.equal(opened, 1);
    assert.equal(errors.length, 1, 'one error reported, then a backoff before reconnecting');
    const error = errors[0] as InstanceType<typeof StorageError>;
    assert.ok(error instanceof StorageError);
    assert.equal(error.code, 'Unavailable');
    assert.equal(error.retryable, true);
    assert.equal(error.details.limitBytes, limit);
    assert.ok(written < 1024 * 1024, `the stream was dropped early (${written} bytes read)`);
  });
});
