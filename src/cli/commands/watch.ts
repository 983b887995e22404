import { type Clock, systemClock } from '../../core/clock.js';
import type { StorageError } from '../../core/errors.js';
import { ChangeWatcher, type CredentialChange, watchTarget } from '../../core/watch.js';
import { parsePairs, requireId } from '../args.js';
import { resolveCliConfig } from '../config.js';
import { type CommandContext, withStorage } from '../context.js';
import { EXIT_OK, UsageError } from '../exit-codes.js';

/** Longest accepted interval: one day. */
const MAX_INTERVAL_MS = 86_400_000;

/**
 * `watch <id>` (or `watch --tag key=value`): one line, or one JSON object with `--json`, per change, until
 * interrupted. Needs no key: it follows the backend's change signal, never the value.
 */
export async function watch(ctx: CommandContext): Promise<number> {
  const tags = parsePairs(ctx.options.tag, '--tag');
  const byTags = Object.keys(tags).length > 0;
  if (byTags && ctx.args.length > 0) {
    throw new UsageError('"watch" takes one credential id or --tag filters, not both', 'watch');
  }
  const target = byTags ? { tags } : requireId(ctx.args, 'watch');
  const intervalMs = parseInterval(ctx.options.interval) ?? 30_000;
  const config = await resolveCliConfig(ctx.options, ctx.io);
  const clock: Clock = ctx.io.clock ?? systemClock;
  await withStorage(ctx, config, async (provider) => {
    const print = (change: CredentialChange) => {
      const time = new Date(clock.now()).toISOString();
      if (ctx.options.json) {
        ctx.io.stdout.write(`${JSON.stringify({ time, ...change })}\n`);
      } else {
        const version = change.version === undefined ? '' : ` version ${change.version}`;
        ctx.io.stdout.write(`${time} ${change.kind} ${change.id}${version}\n`);
      }
    };
    const watcher = new ChangeWatcher(
      provider,
      watchTarget(target),
      print,
      {
        intervalMs,
        onError: (error: StorageError) =>
          ctx.io.stderr.write(
            `nebula-credential: watch: error [${error.code}]: ${error.message} (retrying)\n`,
          ),
      },
      { clock },
    );
    try {
      await watcher.ready;
      const what = byTags
        ? `credentials tagged ${Object.entries(tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}`
        : `"${target}"`;
      ctx.io.stderr.write(`watching ${what} on ${provider.name} every ${intervalMs} ms; Ctrl-C to stop\n`);
      await (ctx.io.waitForStop ? ctx.io.waitForStop() : new Promise<never>(() => {}));
    } finally {
      await watcher.close();
    }
  });
  return EXIT_OK;
}

/** `30` (seconds), `500ms`, `30s`, `5m`, `1h`. */
export function parseInterval(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match?.[2] ?? 's'] ?? 1000;
  const ms = match ? Math.round(Number(match[1]) * unit) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 10 || ms > MAX_INTERVAL_MS) {
    throw new UsageError('--interval takes a duration from 10ms to 24h, such as 30s, 500ms or 5m', 'watch');
  }
  return ms;
}
