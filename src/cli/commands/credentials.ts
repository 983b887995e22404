import { isStorageError, StorageError } from '../../core/errors.js';
import { readBoundedFile, readDeadline } from '../../core/files.js';
import { CredentialId } from '../../core/id.js';
import { type CredentialFilter, createMetadata } from '../../core/metadata.js';
import { DEFAULT_TIMEOUTS } from '../../core/options.js';
import type { StorageProvider } from '../../core/provider.js';
import { CredentialStore } from '../../core/store.js';
import { parseDate, parseInteger, parsePairs, requireId } from '../args.js';
import { resolveCliConfig } from '../config.js';
import { type CommandContext, openKey, showActivity, withStorage } from '../context.js';
import { EXIT_NO, EXIT_OK, UsageError } from '../exit-codes.js';
import { explainKeyFailure } from '../keys.js';
import { formatMetadata, metadataJson } from '../output.js';
import { canPrompt, promptNewSecret, readAll } from '../prompt.js';

/**
 * `put <id>`: value from --from-file, standard input, or a hidden prompt (asked twice on a terminal). The
 * value is read after the backend and key are open, so a wrong config fails before anyone types a secret,
 * and only up to the largest credential the backend accepts (a FIFO, a device or an endless pipe is
 * refused, never waited on).
 */
export async function put(ctx: CommandContext): Promise<number> {
  const id = requireId(ctx.args, 'put');
  // Everything that can be wrong is checked before the value is asked for: nobody should type a secret
  // blind only to learn that the id, a tag, the config or the key was wrong.
  CredentialId.from(id);
  const tags = parsePairs(ctx.options.tag, '--tag');
  const days = parseInteger(ctx.options['rotation-days'], 'rotation-days', 'put');
  const rotation = days === undefined ? {} : { rotationPolicy: { intervalDays: days } };
  createMetadata({ tags, ...rotation });
  const config = await resolveCliConfig(ctx.options, ctx.io);
  await withStorage(ctx, config, async (provider) => {
    const key = await openKey(ctx, config);
    try {
      const value = await readValue(ctx, id, provider);
      try {
        // The overwrite rule: without --tag / --rotation-days the credential keeps its tags / rotation.
        const store = new CredentialStore(provider, key.manager);
        const options = { ...(ctx.options.tag === undefined ? {} : { tags }), ...rotation };
        if (ctx.options.new === true) await store.create(id, value, options);
        else await store.put(id, value, options);
      } finally {
        value.fill(0);
      }
      ctx.io.stderr.write(`stored "${id}" (${provider.name})\n`);
    } finally {
      key.manager.dispose();
    }
  });
  return EXIT_OK;
}

async function readValue(ctx: CommandContext, id: string, provider: StorageProvider): Promise<Buffer> {
  const file = ctx.options['from-file'];
  const limit = provider.capabilities.maxCredentialSize;
  const tooLarge = (source: string) =>
    new StorageError({
      code: 'SizeLimitExceeded',
      message: `${source} holds more than ${limit} bytes, the largest credential ${provider.name} accepts; store a smaller value or choose a backend with a larger limit`,
      provider: provider.name,
      operation: 'store',
      credentialId: id,
      details: { limit },
    });
  let value: Buffer;
  if (file !== undefined) {
    // Reading the value is part of the write: it gets the write deadline.
    const deadline = readDeadline(DEFAULT_TIMEOUTS.writeMs, 'reading --from-file');
    try {
      value = await readBoundedFile(file, {
        maxBytes: limit,
        what: 'the value file',
        option: '--from-file',
        signal: deadline.signal,
      });
    } catch (error) {
      // Over the size bound is the credential's size limit, not a configuration problem.
      if (isStorageError(error) && error.details.limit === limit) throw tooLarge(`--from-file ${file}`);
      throw error;
    } finally {
      deadline.clear();
    }
  } else if (canPrompt(ctx.io)) {
    const typed = await promptNewSecret(ctx.io, {
      question: `Value for ${id}: `,
      repeat: `Repeat the value for ${id}: `,
      what: 'values',
      command: 'put',
      confirm: ctx.options['no-confirm'] !== true,
      check: (answer) => {
        if (answer === '') throw emptyValue();
      },
    });
    value = Buffer.from(typed);
  } else {
    // Room for the value, a trailing CR LF, and one byte more: an over-long input is refused once known.
    const all = await readAll(ctx.io.stdin, limit + 3);
    if (all.length > limit + 2) {
      all.fill(0);
      throw tooLarge('standard input');
    }
    // `echo "$TOKEN" | put` appends a newline nobody means to store.
    const trim = all.at(-1) === 0x0a ? (all.at(-2) === 0x0d ? 2 : 1) : 0;
    value = Buffer.from(all.subarray(0, all.length - trim));
    all.fill(0);
    if (value.length > limit) {
      value.fill(0);
      throw tooLarge('standard input');
    }
  }
  if (value.length === 0) throw emptyValue();
  return value;
}

function emptyValue(): UsageError {
  return new UsageError('the value is empty (pipe it to standard input, or use --from-file)', 'put');
}

/** `get <id>`: the value alone on standard output. */
export async function get(ctx: CommandContext): Promise<number> {
  const id = requireId(ctx.args, 'get');
  const config = await resolveCliConfig(ctx.options, ctx.io);
  const key = await openKey(ctx, config);
  try {
    await withStorage(ctx, config, async (provider) => {
      const { secret, metadata, version } = await new CredentialStore(provider, key.manager)
        .get(id)
        .catch((error: unknown) => {
          throw explainKeyFailure(error, id, key);
        });
      try {
        if (ctx.options.json) {
          const json = { ...metadataJson(id, provider.name, metadata, version), value: secret.expose() };
          ctx.io.stdout.write(`${JSON.stringify(json)}\n`);
        } else {
          secret.useBytes((bytes) => ctx.io.stdout.write(Buffer.from(bytes)));
          if (ctx.io.stdout.isTTY) ctx.io.stdout.write('\n');
        }
      } finally {
        secret.dispose();
      }
    });
  } finally {
    key.manager.dispose();
  }
  return EXIT_OK;
}

/** `list`: ids, filtered. */
export async function list(ctx: CommandContext): Promise<number> {
  if (ctx.args.length > 0) throw new UsageError('"list" takes no arguments (filters are options)', 'list');
  const filter: CredentialFilter = {};
  const tags = parsePairs(ctx.options.tag, '--tag');
  if (Object.keys(tags).length > 0) filter.tags = tags;
  const after = parseDate(ctx.options['created-after'], '--created-after');
  const before = parseDate(ctx.options['created-before'], '--created-before');
  if (after) filter.createdAfter = after;
  if (before) filter.createdBefore = before;
  const config = await resolveCliConfig(ctx.options, ctx.io);
  const ids = await showActivity(ctx, `listing the credentials in ${config.storage.provider}`, () =>
    withStorage(ctx, config, (provider) => provider.list(filter)),
  );
  ids.sort();
  if (ctx.options.json) ctx.io.stdout.write(`${JSON.stringify(ids)}\n`);
  else if (ids.length > 0) ctx.io.stdout.write(`${ids.join('\n')}\n`);
  return EXIT_OK;
}

/** One entry of a backend's version history, as `describe` shows it. */
interface VersionEntry {
  version: number | string;
  createdAt?: Date | undefined;
  deletedAt?: Date | undefined;
  destroyed?: boolean | undefined;
}

/** Providers with version history (Vault's KV v2) expose `versionHistory(id)`; others do not. */
async function versionHistory(provider: StorageProvider, id: string): Promise<VersionEntry[] | undefined> {
  const p = provider as StorageProvider & {
    versionHistory?: (id: string) => Promise<{ versions?: VersionEntry[] }>;
  };
  if (typeof p.versionHistory !== 'function') return undefined;
  const history = await p.versionHistory(id);
  return Array.isArray(history.versions) ? history.versions : undefined;
}

/** `describe <id>`: metadata, no value, no key needed. */
export async function describe(ctx: CommandContext): Promise<number> {
  const id = requireId(ctx.args, 'describe');
  const config = await resolveCliConfig(ctx.options, ctx.io);
  const { name, metadata, version, versions } = await showActivity(
    ctx,
    `reading "${id}" in ${config.storage.provider}`,
    () =>
      withStorage(ctx, config, async (provider) => ({
        name: provider.name,
        ...(await provider.retrieve(id)),
        versions: await versionHistory(provider, id),
      })),
  );
  if (ctx.options.json) {
    const json = {
      ...metadataJson(id, name, metadata, version),
      ...(versions ? { versions: versions.map(versionJson) } : {}),
    };
    ctx.io.stdout.write(`${JSON.stringify(json)}\n`);
    return EXIT_OK;
  }
  let text = formatMetadata(id, name, metadata, version);
  if (versions) {
    text += 'versions:\n';
    for (const v of [...versions].reverse()) {
      const state = v.destroyed ? ' destroyed' : v.deletedAt ? ` deleted ${v.deletedAt.toISOString()}` : '';
      text += `  ${String(v.version).padStart(4)}  ${v.createdAt?.toISOString() ?? ''}${state}\n`;
    }
  }
  ctx.io.stdout.write(text);
  return EXIT_OK;
}

function versionJson(v: VersionEntry) {
  return {
    version: String(v.version),
    ...(v.createdAt ? { createdAt: v.createdAt.toISOString() } : {}),
    ...(v.deletedAt ? { deletedAt: v.deletedAt.toISOString() } : {}),
    ...(v.destroyed ? { destroyed: true } : {}),
  };
}

/** `delete <id>`: NotFound when missing, unless --force; says when there was nothing to delete. */
export async function remove(ctx: CommandContext): Promise<number> {
  const id = requireId(ctx.args, 'delete');
  const config = await resolveCliConfig(ctx.options, ctx.io);
  await withStorage(ctx, config, async (provider) => {
    if (!(await provider.exists(id))) {
      if (ctx.options.force) {
        ctx.io.stderr.write(`nothing to delete: "${id}" does not exist (${provider.name})\n`);
        return;
      }
      throw new StorageError({
        code: 'NotFound',
        message: `nothing to delete: credential "${id}" does not exist in ${provider.name} (--force makes that a success)`,
        provider: provider.name,
        operation: 'delete',
        credentialId: id,
      });
    }
    await provider.delete(id);
    ctx.io.stderr.write(`deleted "${id}" (${provider.name})\n`);
  });
  return EXIT_OK;
}

/** `exists <id>`: exit status only. */
export async function exists(ctx: CommandContext): Promise<number> {
  const id = requireId(ctx.args, 'exists');
  const config = await resolveCliConfig(ctx.options, ctx.io);
  const found = await withStorage(ctx, config, (provider) => provider.exists(id));
  return found ? EXIT_OK : EXIT_NO;
}
