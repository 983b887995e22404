import type { EncryptedData, EncryptionManager } from '../../core/crypto.js';
import { isStorageError, StorageError, toStorageError } from '../../core/errors.js';
import type { CredentialFilter, CredentialMetadata } from '../../core/metadata.js';
import type { StorageProvider, StoredCredential } from '../../core/provider.js';
import { credentialAssociatedData } from '../../core/store.js';
import { parsePairs } from '../args.js';
import { type CliConfig, loadConfigSpec } from '../config.js';
import { type CommandContext, openStorage } from '../context.js';
import { EXIT_OK, UsageError } from '../exit-codes.js';
import { discoverEncryption, openEncryption } from '../keys.js';
import { ProgressBar } from '../output.js';

/** What `copy` did, printed as the summary (`--json` prints this object). */
export interface CopySummary {
  from: string;
  to: string;
  /** `ciphertext`: copied as stored (same key); `re-encrypted`: decrypted and encrypted with the destination key. */
  mode: 'ciphertext' | 're-encrypted';
  dryRun: boolean;
  copied: string[];
  unchanged: string[];
  failed: { id: string; code: string; message: string } | null;
  notAttempted: string[];
}

type Status = 'new' | 'differs' | 'identical';

const aad = credentialAssociatedData;

/** `copy --from <config> --to <config>`: verified, resumable copy with metadata. */
export async function copy(ctx: CommandContext): Promise<number> {
  const { io, options } = ctx;
  if (ctx.args.length > 0) throw new UsageError('"copy" takes no arguments (use --from and --to)', 'copy');
  for (const flag of ['config', 'provider', 'dir', 'option', 'key-file'] as const) {
    if (options[flag] !== undefined) {
      throw new UsageError(
        `"copy" takes its backends from --from and --to; --${flag} does not apply`,
        'copy',
      );
    }
  }
  if (options.from === undefined || options.to === undefined) {
    throw new UsageError('"copy" needs --from <config> and --to <config>', 'copy');
  }
  const tags = parsePairs(options.tag, '--tag');
  const filter: CredentialFilter | undefined = Object.keys(tags).length > 0 ? { tags } : undefined;
  const fromConfig = await loadConfigSpec(options.from, io, '--from');
  const toConfig = await loadConfigSpec(options.to, io, '--to');
  if (JSON.stringify(fromConfig.storage) === JSON.stringify(toConfig.storage)) {
    throw new UsageError('--from and --to name the same backend', 'copy');
  }
  const keys = await copyKeys(ctx, fromConfig, toConfig);
  let source: StorageProvider | undefined;
  let target: StorageProvider | undefined;
  try {
    source = await openStorage(ctx, fromConfig);
    target = await openStorage(ctx, toConfig);
    return await run(ctx, source, target, keys, filter);
  } finally {
    await source?.close().catch(() => {});
    await target?.close().catch(() => {});
    keys?.source.dispose();
    keys?.target.dispose();
  }
}

/** The keys when the two sides encrypt differently; `undefined` when the ciphertext can move as it is. */
async function copyKeys(ctx: CommandContext, from: CliConfig, to: CliConfig) {
  if (JSON.stringify(from.encryption) === JSON.stringify(to.encryption)) return undefined;
  const a = await discoverEncryption(from.encryption, ctx.io);
  const b = await discoverEncryption(to.encryption, ctx.io);
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  const source = await openEncryption(a, ctx.io);
  const target = await openEncryption(b, ctx.io);
  if (source.keyId === target.keyId) {
    source.dispose();
    target.dispose();
    return undefined;
  }
  return { source, target };
}

async function run(
  ctx: CommandContext,
  source: StorageProvider,
  target: StorageProvider,
  keys: { source: EncryptionManager; target: EncryptionManager } | undefined,
  filter: CredentialFilter | undefined,
): Promise<number> {
  const { io, options } = ctx;
  const ids = (await source.list(filter)).sort();
  const summary: CopySummary = {
    from: source.name,
    to: target.name,
    mode: keys ? 're-encrypted' : 'ciphertext',
    dryRun: options['dry-run'] === true,
    copied: [],
    unchanged: [],
    failed: null,
    notAttempted: [],
  };
  const planned: { id: string; status: Status }[] = [];
  let failure: StorageError | undefined;
  const progress = io.stderr.isTTY && !summary.dryRun ? new ProgressBar(io.stderr, ids.length) : undefined;
  for (const [index, id] of ids.entries()) {
    progress?.update(index, id);
    let plaintext: Buffer | undefined;
    try {
      const stored = await source.retrieve(id);
      plaintext = keys ? keys.source.decrypt(stored.data, aad(id)) : undefined;
      const status = await compare(target, id, stored, plaintext, keys?.target);
      if (summary.dryRun) planned.push({ id, status });
      else if (status === 'identical') summary.unchanged.push(id);
      else {
        const data = plaintext && keys ? keys.target.encrypt(plaintext, aad(id)) : stored.data;
        await target.store(id, data, stored.metadata);
        if ((await compare(target, id, { ...stored, data }, plaintext, keys?.target)) !== 'identical') {
          throw new StorageError({
            code: 'Corrupted',
            message: `verification failed: "${id}" read back from ${target.name} differs from what was written`,
            provider: target.name,
            operation: 'copy',
            credentialId: id,
          });
        }
        summary.copied.push(id);
      }
    } catch (error) {
      failure = toStorageError(error, { operation: 'copy', credentialId: id });
      summary.failed = { id, code: failure.code, message: failure.message };
      summary.notAttempted = ids.slice(index + 1);
      break;
    } finally {
      plaintext?.fill(0);
    }
  }
  progress?.update(ids.length - summary.notAttempted.length - (failure ? 1 : 0), 'done');
  progress?.clear();
  io.stdout.write(options.json ? `${JSON.stringify(summary)}\n` : render(summary, planned));
  if (failure) throw failure;
  return EXIT_OK;
}

/** Whether the destination already holds this credential, byte for byte (or value for value). */
async function compare(
  target: StorageProvider,
  id: string,
  source: StoredCredential,
  plaintext: Buffer | undefined,
  targetKey: EncryptionManager | undefined,
): Promise<Status> {
  let existing: StoredCredential;
  try {
    existing = await target.retrieve(id);
  } catch (error) {
    if (isStorageError(error, 'NotFound')) return 'new';
    throw error;
  }
  if (!sameMetadata(existing.metadata, source.metadata)) return 'differs';
  if (!plaintext || !targetKey) return sameData(existing.data, source.data) ? 'identical' : 'differs';
  let theirs: Buffer;
  try {
    theirs = targetKey.decrypt(existing.data, aad(id));
  } catch {
    return 'differs';
  }
  const same = theirs.equals(plaintext);
  theirs.fill(0);
  return same ? 'identical' : 'differs';
}

function sameData(a: EncryptedData, b: EncryptedData): boolean {
  const eq = (x: Uint8Array, y: Uint8Array) => Buffer.from(x).equals(Buffer.from(y));
  return (
    a.version === b.version &&
    a.keyId === b.keyId &&
    eq(a.nonce, b.nonce) &&
    eq(a.ciphertext, b.ciphertext) &&
    eq(a.tag, b.tag)
  );
}

// lastAccessed is left out: a backend may stamp it on the very read that verifies the copy.
function sameMetadata(a: CredentialMetadata, b: CredentialMetadata): boolean {
  const key = (m: CredentialMetadata) =>
    JSON.stringify([
      m.createdAt.getTime(),
      m.lastModified.getTime(),
      m.rotationPolicy?.intervalDays ?? null,
      Object.entries(m.tags).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
    ]);
  return key(a) === key(b);
}

function render(summary: CopySummary, planned: { id: string; status: Status }[]): string {
  const how =
    summary.mode === 'ciphertext' ? 'ciphertext copied as stored' : 're-encrypted for the destination';
  if (summary.dryRun) {
    const todo = planned.filter((p) => p.status !== 'identical').length;
    const lines = [
      `dry run: would copy ${todo} of ${planned.length} credential${planned.length === 1 ? '' : 's'} from ${summary.from} to ${summary.to} (${how})`,
      ...planned.map(
        ({ id, status }) =>
          `  ${id}  ${status === 'new' ? 'new' : status === 'differs' ? 'differs at the destination: would be replaced' : 'identical at the destination: would be skipped'}`,
      ),
    ];
    if (summary.failed) lines.push(`  ${summary.failed.id}  could not be checked: ${summary.failed.code}`);
    return `${lines.join('\n')}\n`;
  }
  const list = (ids: string[]) => (ids.length === 0 ? '-' : ids.join(', '));
  const lines = [
    `copied ${summary.copied.length}, unchanged ${summary.unchanged.length}, failed ${summary.failed ? 1 : 0}, not attempted ${summary.notAttempted.length} (${summary.from} -> ${summary.to}, ${how}, each verified by reading it back)`,
    `  copied:        ${list(summary.copied)}`,
    `  unchanged:     ${list(summary.unchanged)}`,
  ];
  if (summary.failed) {
    lines.push(`  failed:        ${summary.failed.id} (${summary.failed.code})`);
    lines.push(`  not attempted: ${list(summary.notAttempted)}`);
    lines.push('Fix the cause and run the same command again: what was already copied is skipped.');
  }
  return `${lines.join('\n')}\n`;
}
