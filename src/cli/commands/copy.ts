import type { EncryptedData, EncryptionManager } from '../../core/crypto.js';
import { isStorageError, StorageError, toStorageError } from '../../core/errors.js';
import type { CredentialFilter, CredentialMetadata } from '../../core/metadata.js';
import type { StorageProvider, StoredCredential } from '../../core/provider.js';
import { credentialAssociatedData } from '../../core/store.js';
import { parsePairs } from '../args.js';
import { type CliConfig, loadConfigSpec } from '../config.js';
import { type CommandContext, openStorage, showActivity } from '../context.js';
import { EXIT_OK, UsageError } from '../exit-codes.js';
import { discoverEncryption, explainKeyFailure, type OpenedKey, openKeySource } from '../keys.js';
import { ProgressBar } from '../output.js';

/** What `copy` did, printed as the summary (`--json` prints this object). */
export interface CopySummary {
  from: string;
  to: string;
  /**
   * `ciphertext`: copied as stored (same key); `re-encrypted`: decrypted and encrypted with the destination
   * key.
   */
  mode: 'ciphertext' | 're-encrypted';
  dryRun: false;
  copied: string[];
  unchanged: string[];
  failed: CopyFailure | null;
  notAttempted: string[];
}

/** What `copy --dry-run` would do, printed as the plan (`--json` prints this object). */
export interface CopyPlan {
  from: string;
  to: string;
  mode: 'ciphertext' | 're-encrypted';
  dryRun: true;
  /** How many credentials the source holds (that match `--tag`). */
  total: number;
  /** Would be written: `new` at the destination, or `differs` there and would be replaced. */
  wouldCopy: { id: string; status: 'new' | 'differs' }[];
  /** Identical at the destination already: would be skipped. */
  unchanged: string[];
  /** Could not be read or compared: a real copy would stop at the first of them. */
  unchecked: CopyFailure[];
}

/** One credential that could not be copied or checked, with its error code. */
export interface CopyFailure {
  id: string;
  code: string;
  message: string;
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
    return await run(ctx, { source, target, keys }, filter);
  } finally {
    await source?.close().catch(() => {});
    await target?.close().catch(() => {});
    keys?.source.manager.dispose();
    keys?.target.manager.dispose();
  }
}

/** The two keys of a copy that re-encrypts. */
interface CopyKeys {
  source: OpenedKey;
  target: OpenedKey;
}

/** The keys when the two sides encrypt differently; `undefined` when the ciphertext can move as it is. */
async function copyKeys(ctx: CommandContext, from: CliConfig, to: CliConfig): Promise<CopyKeys | undefined> {
  if (JSON.stringify(from.encryption) === JSON.stringify(to.encryption)) return undefined;
  const a = await discoverEncryption(from.encryption, ctx.io);
  const b = await discoverEncryption(to.encryption, ctx.io);
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  const source = await openKeySource(a, ctx.io);
  const target = await openKeySource(b, ctx.io);
  if (source.manager.keyId === target.manager.keyId) {
    source.manager.dispose();
    target.manager.dispose();
    return undefined;
  }
  return { source, target };
}

interface CopySides {
  source: StorageProvider;
  target: StorageProvider;
  keys: CopyKeys | undefined;
}

async function run(ctx: CommandContext, sides: CopySides, filter: CredentialFilter | undefined) {
  const { io, options } = ctx;
  const listing = `listing the credentials in ${sides.source.name}`;
  const ids = (await showActivity(ctx, listing, () => sides.source.list(filter))).sort();
  const progress = io.stderr.isTTY ? new ProgressBar(io.stderr, ids.length) : undefined;
  const result = options['dry-run'] ? await plan(sides, ids, progress) : await copyAll(sides, ids, progress);
  progress?.clear();
  io.stdout.write(options.json ? `${JSON.stringify(result.report)}\n` : render(result.report));
  if (result.failure) throw result.failure;
  return EXIT_OK;
}

/** Reads one source credential and compares it with the destination (decrypting when the keys differ). */
async function inspect(sides: CopySides, id: string) {
  const stored = await sides.source.retrieve(id);
  let plaintext: Buffer | undefined;
  try {
    plaintext = sides.keys ? sides.keys.source.manager.decrypt(stored.data, aad(id)) : undefined;
  } catch (error) {
    throw sides.keys ? explainKeyFailure(error, id, sides.keys.source) : error;
  }
  try {
    const status = await compare(sides.target, id, stored, plaintext, sides.keys?.target.manager);
    return { stored, plaintext, status };
  } catch (error) {
    plaintext?.fill(0);
    throw error;
  }
}

function failureOf(error: unknown, id: string): { error: StorageError; entry: CopyFailure } {
  const failure = toStorageError(error, { operation: 'copy', credentialId: id });
  return { error: failure, entry: { id, code: failure.code, message: failure.message } };
}

/** The dry run: checks every credential, going on past those that cannot be read, and writes nothing. */
async function plan(sides: CopySides, ids: string[], progress: ProgressBar | undefined) {
  const report: CopyPlan = {
    ...header(sides),
    dryRun: true,
    total: ids.length,
    wouldCopy: [],
    unchanged: [],
    unchecked: [],
  };
  let failure: StorageError | undefined;
  for (const [index, id] of ids.entries()) {
    progress?.update(index, id);
    try {
      const { plaintext, status } = await inspect(sides, id);
      plaintext?.fill(0);
      if (status === 'identical') report.unchanged.push(id);
      else report.wouldCopy.push({ id, status });
    } catch (error) {
      const { error: storageError, entry } = failureOf(error, id);
      failure ??= storageError;
      report.unchecked.push(entry);
    }
  }
  progress?.update(ids.length, 'done');
  return { report, failure };
}

/** The copy: stops at the first failure, naming what was copied and what was not attempted. */
async function copyAll(sides: CopySides, ids: string[], progress: ProgressBar | undefined) {
  const { target, keys } = sides;
  const report: CopySummary = {
    ...header(sides),
    dryRun: false,
    copied: [],
    unchanged: [],
    failed: null,
    notAttempted: [],
  };
  let failure: StorageError | undefined;
  for (const [index, id] of ids.entries()) {
    progress?.update(index, id);
    let plaintext: Buffer | undefined;
    try {
      const inspected = await inspect(sides, id);
      plaintext = inspected.plaintext;
      const { stored } = inspected;
      if (inspected.status === 'identical') {
        report.unchanged.push(id);
        continue;
      }
      const data = plaintext && keys ? keys.target.manager.encrypt(plaintext, aad(id)) : stored.data;
      // The copy carries the source's metadata exactly, creation time included, over whatever was there.
      await target.store(id, data, stored.metadata, undefined, { exactMetadata: true });
      const check = await compare(target, id, { ...stored, data }, plaintext, keys?.target.manager);
      if (check !== 'identical') {
        throw new StorageError({
          code: 'Corrupted',
          message: `verification failed: "${id}" read back from ${target.name} differs from what was written`,
          provider: target.name,
          operation: 'copy',
          credentialId: id,
        });
      }
      report.copied.push(id);
    } catch (error) {
      const failed = failureOf(error, id);
      failure = failed.error;
      report.failed = failed.entry;
      report.notAttempted = ids.slice(index + 1);
      break;
    } finally {
      plaintext?.fill(0);
    }
  }
  progress?.update(report.copied.length + report.unchanged.length, 'done');
  return { report, failure };
}

function header(sides: CopySides) {
  return {
    from: sides.source.name,
    to: sides.target.name,
    mode: sides.keys ? ('re-encrypted' as const) : ('ciphertext' as const),
  };
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

function render(report: CopySummary | CopyPlan): string {
  const how =
    report.mode === 'ciphertext' ? 'ciphertext copied as stored' : 're-encrypted for the destination';
  const plural = (n: number) => `${n} credential${n === 1 ? '' : 's'}`;
  if (report.dryRun) {
    const lines = [
      `dry run: would copy ${report.wouldCopy.length} of ${plural(report.total)} from ${report.from} to ${report.to} (${how}); ${report.unchanged.length} unchanged, ${report.unchecked.length} could not be checked`,
      ...report.wouldCopy.map(
        ({ id, status }) =>
          `  ${id}  ${status === 'new' ? 'new' : 'differs at the destination: would be replaced'}`,
      ),
      ...report.unchanged.map((id) => `  ${id}  identical at the destination: would be skipped`),
      ...report.unchecked.map(({ id, code }) => `  ${id}  could not be checked: ${code}`),
    ];
    if (report.unchecked.length > 0) {
      lines.push('A copy would stop at the first credential that could not be checked: fix those first.');
    }
    return `${lines.join('\n')}\n`;
  }
  const list = (ids: string[]) => (ids.length === 0 ? '-' : ids.join(', '));
  const lines = [
    `copied ${report.copied.length}, unchanged ${report.unchanged.length}, failed ${report.failed ? 1 : 0}, not attempted ${report.notAttempted.length} (${report.from} -> ${report.to}, ${how}, each verified by reading it back)`,
    `  copied:        ${list(report.copied)}`,
    `  unchanged:     ${list(report.unchanged)}`,
  ];
  if (report.failed) {
    lines.push(`  failed:        ${report.failed.id} (${report.failed.code})`);
    lines.push(`  not attempted: ${list(report.notAttempted)}`);
    lines.push('Fix the cause and run the same command again: what was already copied is skipped.');
  }
  return `${lines.join('\n')}\n`;
}
