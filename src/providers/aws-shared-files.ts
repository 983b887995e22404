// The SDK reads the shared config and credentials files, the SSO token cache and the web identity token
// file whole (`fs.readFile`, `readFileSync` for the token), swallowing read errors: a FIFO there holds a
// thread-pool thread (or the event loop) until a writer comes, and a huge file is read whole. No hook of its
// loader applies per client (`externalDataInterceptor` is process-wide and sticky), so each file the chain
// is about to read gets the core regular-file and size checks first, and the SDK reads it afterwards.

import { join } from 'node:path';
import { checkBoundedFile, FILE_SIZE_LIMITS } from '../core/files.js';
import { requireBesidePeer } from '../core/peer.js';
import { AWS_SECRETS_MANAGER as PROVIDER } from './aws-secrets-manager-options.js';

type Profile = Record<string, string | undefined>;

interface SharedIni {
  getHomeDir(): string;
  getProfileName(init: { profile?: string | undefined }): string;
  getSSOTokenFilepath(id: string): string;
  parseKnownFiles(init: SharedFilesInit): Promise<Record<string, Profile | undefined>>;
}

/** What of the chain's init names files (the SDK's `SourceProfileInit` and SSO fields). */
export interface SharedFilesInit {
  profile?: string | undefined;
  filepath?: string | undefined;
  configFilepath?: string | undefined;
  ssoSession?: string | undefined;
  ssoStartUrl?: string | undefined;
  [key: string]: unknown;
}

const sharedIni = () =>
  requireBesidePeer<SharedIni>('@aws-sdk/client-secrets-manager', '@smithy/core/config', [
    '@aws-sdk/credential-provider-node',
  ]);

/** loadSharedConfigFiles' rule: a leading `~/` is the SDK's home folder. */
function resolveHome(path: string, ini: SharedIni): string {
  return path.startsWith('~/') ? join(ini.getHomeDir(), path.slice(2)) : path;
}

function check(path: string, what: string, option: string, maxBytes: number, signal?: AbortSignal) {
  return checkBoundedFile(path, {
    maxBytes,
    what,
    option,
    provider: PROVIDER,
    operation: 'connect',
    signal,
    skipUnopenable: true,
  });
}

/**
 * Checks the shared config and credentials files the SDK will read (`AWS_CONFIG_FILE`,
 * `AWS_SHARED_CREDENTIALS_FILE`, or their `~/.aws` defaults): regular files of at most
 * `FILE_SIZE_LIMITS.configFile`. Missing or unreadable files pass, as the SDK ignores them.
 *
 * @example
 * ```ts
 * await checkSharedConfigFiles({ profile: 'dev' }, attempt.signal);
 * ```
 *
 * @internal
 */
export async function checkSharedConfigFiles(init: SharedFilesInit, signal?: AbortSignal): Promise<void> {
  const ini = sharedIni();
  const home = ini.getHomeDir();
  const config = init.configFilepath ?? (process.env['AWS_CONFIG_FILE'] || join(home, '.aws', 'config'));
  const credentials =
    init.filepath ?? (process.env['AWS_SHARED_CREDENTIALS_FILE'] || join(home, '.aws', 'credentials'));
  await Promise.all([
    check(
      resolveHome(config, ini),
      'the AWS shared config file',
      'AWS_CONFIG_FILE',
      FILE_SIZE_LIMITS.configFile,
      signal,
    ),
    check(
      resolveHome(credentials, ini),
      'the AWS shared credentials file',
      'AWS_SHARED_CREDENTIALS_FILE',
      FILE_SIZE_LIMITS.configFile,
      signal,
    ),
  ]);
}

/**
 * Checks every file the default chain reads for the profile in use: the shared config and credentials
 * files, then (parsed by the SDK, now safe to read) the SSO token cache entries (`~/.aws/sso/cache/*.json`)
 * and the web identity token files of the profile and its `source_profile` chain, and
 * `AWS_WEB_IDENTITY_TOKEN_FILE`. Token files get `FILE_SIZE_LIMITS.token`. A FIFO, a device or an
 * oversized file is `InvalidConfig`, as every bounded file read of the library.
 *
 * @example
 * ```ts
 * await checkChainFiles(init);
 * ```
 *
 * @internal
 */
export async function checkChainFiles(init: SharedFilesInit, signal?: AbortSignal): Promise<void> {
  await checkSharedConfigFiles(init, signal);
  const ini = sharedIni();
  const profiles = await ini.parseKnownFiles(init);
  const ssoIds = new Set<string>();
  const tokenFiles = new Map<string, string>();
  if (init.ssoSession) ssoIds.add(init.ssoSession);
  else if (init.ssoStartUrl) ssoIds.add(init.ssoStartUrl);
  const envToken = process.env['AWS_WEB_IDENTITY_TOKEN_FILE'];
  if (envToken) tokenFiles.set(envToken, 'AWS_WEB_IDENTITY_TOKEN_FILE');
  const visited = new Set<string>();
  let name: string | undefined = ini.getProfileName(init);
  while (name !== undefined && !visited.has(name)) {
    visited.add(name);
    const profile: Profile | undefined = profiles[name];
    if (!profile) break;
    // fromSSO's cache key: the session's name, or the legacy profile's start URL.
    const ssoId = profile['sso_session'] ?? profile['sso_start_url'];
    if (ssoId) ssoIds.add(ssoId);
    const tokenFile = profile['web_identity_token_file'];
    if (tokenFile) tokenFiles.set(tokenFile, `web_identity_token_file of profile ${name}`);
    name = profile['source_profile'];
  }
  await Promise.all([
    ...[...ssoIds].map((id) =>
      check(
        ini.getSSOTokenFilepath(id),
        'the AWS SSO token cache file',
        'aws sso login',
        FILE_SIZE_LIMITS.token,
        signal,
      ),
    ),
    ...[...tokenFiles].map(([path, option]) =>
      check(path, 'the web identity token file', option, FILE_SIZE_LIMITS.token, signal),
    ),
  ]);
}
