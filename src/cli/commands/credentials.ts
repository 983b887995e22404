import { readFile } from 'node:fs/promises';
import { StorageError } from '../../core/errors.js';
import type { CredentialFilter } from '../../core/metadata.js';
import type { StorageProvider } from '../../core/provider.js';
import { CredentialStore } from '../../core/store.js';
import { parseDate, parseInteger, parsePairs, requireId } from '../args.js';
import { resolveCliConfig } from '../config.js';
import { type CommandContext, openKey, withStorage } from '../context.js';
import { EXIT_NO, EXIT_OK, UsageError } from '../exit-codes.js';
import { formatMetadata, metadataJson } from '../output.js';
import { promptHidden, readAll } from '../prompt.js';

/** `put <id>`: value from --from-file, standard input, or a hidden prompt. */
export async function put(ctx: CommandContext): Promise<number> {
  const id = requireId(ctx.args, 'put');
  const tags = parsePairs(ctx.options.tag, '--tag');
  const days = parseInteger(ctx.options['rotation-days'], '--rotation-days', 1, 36500);
  const config = await resolveCliConfig(ctx.options, ctx.io);
  const key = await openKey(ctx, config);
  const value = await readValue(ctx, id);
  try {
    await withStorage(ctx, config, async (provider) => {
      const store = new CredentialStore(provider, key);
      // The overwrite rule: without --tag / --rotation-days the credential keeps its tags / rotation policy.
      await store.put(id, value, {
        ...(ctx.options.tag === undefined ? {} : { tags }),
        ...(days === undefined ? {} : { rotationPolicy: { intervalDays: days } }),
      });
      ctx.io.stderr.write(`stored "${id}" (${provider.name})\n`);
    });
  } finally {
    value.fill(0);
    key.dispose();
  }
  return EXIT_OK;
}

async function readValue(ctx: CommandContext, id: string): Promise<Buffer> {
  const file = ctx.options['from-file'];
  let value: Buffer;
  if (file !== undefined) {
    try {
      value = await readFile(file);
    } catch (error) {
      throw new UsageError(
        `cannot read --from-file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
        'put',
      );
    }
  } else if (ctx.io.stdin.isTTY && ctx.io.stdin.setRawMode) {
    value = Buffer.from(await promptHidden(ctx.io, `Value for ${id}: `));
  } else {
    const all = await readAll(ctx.io.stdin);
    // `echo "$TOKEN" | put` appends a newline nobody means to store.
    const trim = all.at(-1) === 0x0a ? (all.at(-2) === 0x0d ? 2 : 1) : 0;
    value = Buffer.from(all.subarray(0, all.length - trim));
    all.fill(0);
  }
  if (value.length === 0) {
    throw new UsageError('the value is empty (pipe it to standard input, or use --from-file)', 'put');
  }
  return value;
}

/** `get <id>`: the value alone on standard output. */
export async function get(ctx: CommandContext): Promise<number> {
  const id = requireId(ctx.args, 'get');
  const config = await resolveCliConfig(ctx.options, ctx.io);
  const key = await openKey(ctx, config);
  try {
    await withStorage(ctx, config, async (provider) => {
      const { secret, metadata, version } = await new CredentialStore(provider, key).get(id);
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
    key.dispose();
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
  const ids = await withStorage(ctx, config, (provider) => provider.list(filter));
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
  await withStorage(ctx, config, async (provider) => {
    const { metadata, version } = await provider.retrieve(id);
    const versions = await versionHistory(provider, id);
    if (ctx.options.json) {
      const json = {
        ...metadataJson(id, provider.name, metadata, version),
        ...(versions ? { versions: versions.map(versionJson) } : {}),
      };
      ctx.io.stdout.write(`${JSON.stringify(json)}\n`);
      return;
    }
    let text = formatMetadata(id, provider.name, metadata, version);
    if (versions) {
      text += 'versions:\n';
      for (const v of [...versions].reverse()) {
        const state = v.destroyed ? ' destroyed' : v.deletedAt ? ` deleted ${v.deletedAt.toISOString()}` : '';
        text += `  ${String(v.version).padStart(4)}  ${v.createdAt?.toISOString() ?? ''}${state}\n`;
      }
    }
    ctx.io.stdout.write(text);
  });
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

/** `delete <id>`: NotFound when missing, unless --force. */
export async function remove(ctx: CommandContext): Promise<number> {
  const id = requireId(ctx.args, 'delete');
  const config = await resolveCliConfig(ctx.options, ctx.io);
  await withStorage(ctx, config, async (provider) => {
    if (!ctx.options.force && !(await provider.exists(id))) {
      throw new StorageError({
        code: 'NotFound',
        message: `credential "${id}" does not exist (use --force to ignore)`,
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
