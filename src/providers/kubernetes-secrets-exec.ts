// A kubeconfig user's `exec` credential plugin, run by this library as kubectl (client-go) runs it: the
// ExecCredential protocol (v1 and v1beta1), KUBERNETES_EXEC_INFO, the cached credential until its
// expirationTimestamp, a new run after a 401. client-node's runner is unbounded and has no timeout.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { Agent as HttpsAgent } from 'node:https';
import { isAbsolute, join } from 'node:path';
import type { Clock } from '../core/clock.js';
import { StorageError } from '../core/errors.js';
import { readDeadline } from '../core/files.js';
import type { Logger } from '../core/logger.js';
import { KubeCredential, RefreshingKubeCredentialSource } from './kubernetes-secrets-credential.js';
import { runPlugin } from './kubernetes-secrets-exec-run.js';
import { KUBERNETES as PROVIDER } from './kubernetes-secrets-options.js';

export { EXEC_OUTPUT_LIMITS } from './kubernetes-secrets-exec-run.js';

/** The ExecCredential versions client-go still speaks (v1alpha1 was removed in Kubernetes 1.24). */
const API_VERSIONS = new Set(['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1']);
const INTERACTIVE_MODES = new Set(['Never', 'IfAvailable', 'Always']);

/** A user's `exec` section, validated as client-go validates it. @internal */
export interface ExecPluginConfig {
  user: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  apiVersion: string;
  installHint: string | undefined;
  provideClusterInfo: boolean;
}

/** The cluster as the plugin sees it in `spec.cluster` (client-go's `clientauthentication.Cluster`). @internal */
export interface ExecClusterInfo {
  server: string;
  'tls-server-name'?: string;
  'insecure-skip-tls-verify'?: boolean;
  /** Base64, as the kubeconfig writes it. */
  'certificate-authority-data'?: string;
  'proxy-url'?: string;
}

function invalid(message: string): StorageError {
  return new StorageError({ code: 'InvalidConfig', message, provider: PROVIDER, operation: 'connect' });
}

function badOutput(what: string, problem: string): StorageError {
  // Never the output itself, nor a parser message quoting it: it may hold the token.
  return new StorageError({
    code: 'AuthenticationFailed',
    message: `${what} answered ${problem}`,
    provider: PROVIDER,
    operation: 'connect',
    retryable: false,
  });
}

/**
 * Validates a kubeconfig user's `exec` as client-go does (`apiVersion` and `command` required, v1 needs
 * `interactiveMode`, v1beta1 defaults it to `IfAvailable`, every `env` entry needs a name) and resolves a
 * relative command containing a slash against `dir`, the folder of the kubeconfig that defined the user.
 * `Always` is refused: a library has no terminal to offer.
 * @internal
 */
export function parseExecConfig(raw: unknown, user: string): ExecPluginConfig {
  const where = `the exec plugin of user "${user}" in the kubeconfig`;
  if (typeof raw !== 'object' || raw === null) throw invalid(`${where} must be a mapping`);
  const exec = raw as Record<string, unknown>;
  const apiVersion = exec['apiVersion'];
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    throw invalid(`apiVersion must be specified for ${where} (client.authentication.k8s.io/v1)`);
  }
  if (!API_VERSIONS.has(apiVersion)) {
    throw invalid(
      `${where} has apiVersion ${JSON.stringify(apiVersion)}, which client-go no longer accepts: use client.authentication.k8s.io/v1 (or v1beta1)`,
    );
  }
  const command = exec['command'];
  if (typeof command !== 'string' || command === '') throw invalid(`command must be specified for ${where}`);
  const args = exec['args'] ?? [];
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) {
    throw invalid(`the args of ${where} must be a list of strings`);
  }
  const env: Record<string, string> = {};
  const entries = exec['env'] ?? [];
  if (!Array.isArray(entries)) throw invalid(`the env of ${where} must be a list of {name, value}`);
  for (const entry of entries as { name?: unknown; value?: unknown }[]) {
    if (typeof entry?.name !== 'string' || entry.name === '') {
      throw invalid(`env variable name must be specified for ${where}`);
    }
    env[entry.name] = entry.value === undefined || entry.value === null ? '' : String(entry.value);
  }
  const mode =
    exec['interactiveMode'] ??
    (apiVersion === 'client.authentication.k8s.io/v1beta1' ? 'IfAvailable' : undefined);
  if (mode === undefined)
    throw invalid(`interactiveMode must be specified for ${where} (Never or IfAvailable)`);
  if (typeof mode !== 'string' || !INTERACTIVE_MODES.has(mode)) {
    throw invalid(
      `invalid interactiveMode for ${where}: ${JSON.stringify(mode)} (Never, IfAvailable or Always)`,
    );
  }
  if (mode === 'Always') {
    throw invalid(
      `${where} has interactiveMode: Always, but this library never has a terminal to offer it; ` +
        'use a plugin that can run with interactiveMode: Never (or IfAvailable), or log in beforehand',
    );
  }
  const hint = exec['installHint'];
  return {
    user,
    command,
    args: args as string[],
    env,
    apiVersion,
    installHint: typeof hint === 'string' && hint !== '' ? hint : undefined,
    provideClusterInfo: exec['provideClusterInfo'] === true,
  };
}

/**
 * client-go resolves a command against the kubeconfig's folder only when it contains a path separator; a
 * bare name is looked up on PATH.
 * @internal
 */
export function resolveExecCommand(command: unknown, dir: string): unknown {
  if (typeof command !== 'string' || !command.includes('/') || isAbsolute(command)) return command;
  return join(dir, command);
}

/** What an {@link ExecCredentialSource} needs besides the plugin. @internal */
export interface ExecSourceOptions {
  cluster: ExecClusterInfo;
  /**
   * A keep-alive agent with the cluster's TLS settings (and its proxy-url tunnel) presenting a certificate
   * credential's pair; undefined over plain http, where there is no TLS to present one in.
   */
  clientAgent: ((pair: { cert: string; key: string }) => HttpsAgent) | undefined;
  /** How long one run may take before the plugin is killed (the connect deadline). */
  timeoutMs: number;
  clock: Clock;
  logger: Logger;
  env: NodeJS.ProcessEnv;
}

/**
 * The credential of a kubeconfig user's exec plugin, kept as client-go keeps it: cached until its
 * `expirationTimestamp` (for the life of the process without one), run again after a 401 unless another
 * caller already replaced it, one run at a time however many calls wait (each waits under its own
 * signal; the run itself is killed at `timeoutMs`, or when the source is disposed).
 *
 * @example
 * ```ts
 * // Built by the Kubernetes provider for a kubeconfig user with `exec`:
 * //   users: [{ name: eks, user: { exec: { apiVersion: client.authentication.k8s.io/v1,
 * //     command: aws, args: [eks, get-token, --cluster-name, prod], interactiveMode: Never } } }]
 * const credential = await source.current(attempt.signal);
 * const header = credential.token ? `Bearer ${credential.token}` : undefined;
 * ```
 */
export class ExecCredentialSource extends RefreshingKubeCredentialSource {
  readonly kind = 'kubeconfig-exec';
  /** The plugin's command, for health and messages. */
  readonly command: string;
  /** Plugin runs started so far. */
  runs = 0;
  readonly #config: ExecPluginConfig;
  readonly #options: ExecSourceOptions;

  /** @internal */
  constructor(config: ExecPluginConfig, options: ExecSourceOptions) {
    super(options.clock);
    this.#config = config;
    this.#options = options;
    this.command = config.command;
  }

  healthFacts(): Record<string, unknown> {
    return { execCommand: this.command };
  }

  protected obtain(closed: AbortSignal): Promise<KubeCredential> {
    return this.#run(closed);
  }

  async #run(closed: AbortSignal): Promise<KubeCredential> {
    const config = this.#config;
    const what = `the exec plugin "${config.command}" of user "${config.user}"`;
    const info = {
      kind: 'ExecCredential',
      apiVersion: config.apiVersion,
      spec: { ...(config.provideClusterInfo ? { cluster: this.#options.cluster } : {}), interactive: false },
    };
    const deadline = readDeadline(this.#options.timeoutMs, what, closed);
    const started = Date.now();
    this.runs++;
    let stdout: Buffer;
    try {
      stdout = await runPlugin(
        {
          command: config.command,
          args: config.args,
          env: { ...this.#options.env, ...config.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
          what,
          installHint: config.installHint,
        },
        deadline.signal,
      );
    } finally {
      deadline.clear();
    }
    const credential = this.#parse(stdout, what);
    this.#options.logger.debug(
      {
        provider: PROVIDER,
        user: config.user,
        command: config.command,
        durationMs: Date.now() - started,
        ...(credential.expiresAt !== undefined
          ? { expiresAt: new Date(credential.expiresAt).toISOString() }
          : {}),
      },
      'exec credential plugin ran',
    );
    return credential;
  }

  #parse(stdout: Buffer, what: string): KubeCredential {
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdout.toString('utf8'));
    } catch {
      throw badOutput(what, 'something that is not JSON (an ExecCredential was expected on stdout)');
    } finally {
      stdout.fill(0);
    }
    const object = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
    if (object['kind'] !== 'ExecCredential') throw badOutput(what, 'JSON that is not an ExecCredential');
    const version = object['apiVersion'];
    if (version !== this.#config.apiVersion) {
      const shown =
        typeof version === 'string' && /^[\w./-]{1,100}$/.test(version) ? version : 'another version';
      throw invalid(
        `${what} is configured to use API version ${this.#config.apiVersion}, but the plugin returned ${shown}: set the kubeconfig's apiVersion to what the plugin speaks`,
      );
    }
    const status = object['status'];
    if (typeof status !== 'object' || status === null)
      throw badOutput(what, 'an ExecCredential without a status');
    const s = status as Record<string, unknown>;
    const text = (key: string) =>
      typeof s[key] === 'string' && s[key] !== '' ? (s[key] as string) : undefined;
    const token = text('token');
    const cert = text('clientCertificateData');
    const key = text('clientKeyData');
    if (!token && !cert && !key)
      throw badOutput(what, 'an ExecCredential without a token or a certificate and key');
    if (!cert !== !key) throw badOutput(what, 'only a client certificate or only a key, not both');
    let expiresAt: number | undefined;
    if (s['expirationTimestamp'] !== undefined && s['expirationTimestamp'] !== null) {
      expiresAt =
        typeof s['expirationTimestamp'] === 'string' ? Date.parse(s['expirationTimestamp']) : Number.NaN;
      if (Number.isNaN(expiresAt))
        throw badOutput(what, 'an expirationTimestamp that is not an RFC 3339 time');
    }
    let agent: HttpsAgent | undefined;
    if (cert && key) {
      const cached = this.cached;
      const reuse = cached?.certificate === cert ? cached.agent : undefined;
      agent = reuse ?? this.#agent(cert, key, what);
    }
    return new KubeCredential(token, agent, expiresAt, cert);
  }

  /** A new agent with the cluster's TLS settings and the plugin's pair, which must belong together. */
  #agent(cert: string, key: string, what: string): HttpsAgent | undefined {
    try {
      if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) throw new Error('mismatch');
    } catch {
      throw badOutput(what, 'a client certificate and key that are not a valid PEM pair');
    }
    return this.#options.clientAgent?.({ cert, key });
  }
}
