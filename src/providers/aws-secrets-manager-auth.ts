// The AWS SDK's default credential chain with every answer body it reads bounded. The SDK's own chain
// (@aws-sdk/credential-provider-node) reads container-credential and instance-metadata answers whole and
// unbounded, gives its SSO client a default handler, and runs credential_process with exec (no timeout); its
// pieces are exported, so the chain is composed here in the SDK's order from the SDK's own providers
// (environment, SSO, shared files, web identity), with bounded container and instance-metadata providers in
// place of its remote step and the library's bounded credential_process in place of its process step.

import http from 'node:http';
import https from 'node:https';
import { StorageError } from '../core/errors.js';
import { FILE_SIZE_LIMITS, readBoundedFile } from '../core/files.js';
import { requireBesidePeer } from '../core/peer.js';
import {
  credentialEndpointCutError,
  type ResponseBodyStream,
  ResponseTooLargeError,
  readBoundedBody,
} from '../core/response-limit.js';
import { CHAIN_STOP_SIGNAL, runCredentialProcess } from './aws-credential-process.js';
import { AWS_SECRETS_MANAGER as PROVIDER } from './aws-secrets-manager-options.js';
import { checkChainFiles } from './aws-shared-files.js';

/** Credentials as the SDK's providers return them. */
interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  expiration?: Date | undefined;
  accountId?: string | undefined;
  [key: string]: unknown;
}

type CredentialProvider = (properties?: Record<string, unknown>) => Promise<Credentials>;

interface Logger {
  debug?(...content: unknown[]): void;
  warn?(...content: unknown[]): void;
  constructor?: { name?: string };
}

/** What the SDK hands a `credentialDefaultProvider`: the client's configuration, with the SDK's knobs. */
interface ChainInit {
  profile?: string;
  logger?: Logger;
  timeout?: number;
  maxRetries?: number;
  ec2MetadataV1Disabled?: boolean;
  awsContainerCredentialsRelativeUri?: string;
  awsContainerCredentialsFullUri?: string;
  awsContainerAuthorizationToken?: string;
  awsContainerAuthorizationTokenFile?: string;
  ssoStartUrl?: string;
  ssoAccountId?: string;
  ssoRegion?: string;
  ssoRoleName?: string;
  ssoSession?: string;
  clientConfig?: Record<string, unknown>;
  [key: string]: unknown;
}

type ProviderErrorClass = new (
  message: string,
  options?: boolean | { logger?: Logger | undefined; tryNextLink?: boolean },
) => Error & { tryNextLink: boolean };

interface SmithyConfig {
  CredentialsProviderError: ProviderErrorClass;
  ProviderError: ProviderErrorClass;
  ENV_PROFILE: string;
  parseKnownFiles(init: ChainInit): Promise<Record<string, Profile | undefined>>;
  getProfileName(init: { profile?: string | undefined }): string;
  chain(...providers: (() => Promise<Credentials>)[]): () => Promise<Credentials>;
  loadConfig<T>(
    selectors: {
      environmentVariableSelector: (env: NodeJS.ProcessEnv) => T | undefined;
      configFileSelector: (profile: Record<string, string | undefined>) => T | undefined;
      default: T;
    },
    configuration?: { profile?: string | undefined },
  ): () => Promise<T>;
}

/** A profile of the shared config and credentials files, as the SDK parses it. */
type Profile = Record<string, string | undefined>;

const PEER = '@aws-sdk/client-secrets-manager';
const NODE_CHAIN = '@aws-sdk/credential-provider-node';

/** A piece of the SDK's chain, loaded from beside the SDK's own credential-provider-node when first used. */
function sdkPart<T>(name: string, via: readonly string[] = [NODE_CHAIN]): T {
  return requireBesidePeer<T>(PEER, name, via);
}

const smithyConfig = () => sdkPart<SmithyConfig>('@smithy/core/config');
const imdsModule = () =>
  sdkPart<{
    getInstanceMetadataEndpoint(): Promise<{
      protocol?: string;
      hostname: string;
      port?: number | undefined;
    }>;
  }>('@smithy/credential-provider-imds');
const setCredentialFeature = (credentials: Credentials, feature: string, value: string): Credentials =>
  sdkPart<{ setCredentialFeature(c: Credentials, f: string, v: string): Credentials }>(
    '@aws-sdk/core/client',
    [NODE_CHAIN, '@aws-sdk/credential-provider-http'],
  ).setCredentialFeature(credentials, feature, value);

/** What the chain needs of the bounded request handler the Secrets Manager client is given. @internal */
export interface BoundedCredentialTransport {
  /** The handler the SSO client sends with (the one the Secrets Manager and STS clients use). */
  requestHandler: unknown;
  /** The largest answer body read, in bytes. */
  limit: number;
  /** Cuts the handler made so far; the SSO provider replaces the cut with its message only. */
  readonly cuts: { count: number; last?: ResponseTooLargeError | undefined };
  /** How long a `credential_process` may run before it is killed (the connect deadline). */
  processTimeoutMs: number;
}

/**
 * The SDK's answer to a cut body, as this library's error: `Unavailable`, not retryable (the endpoint would
 * send the same), with `details.limitBytes`. `source` names the endpoint; nothing of the request (the
 * container authorization token) or of the body (credentials) goes into it.
 *
 * @example
 * ```ts
 * const error = credentialEndpointCut(new ResponseTooLargeError(9_000_000, true, 8_400_000), 'the container credentials endpoint');
 * console.log(error?.code); // Unavailable
 * ```
 *
 * @internal
 */
export function credentialEndpointCut(error: unknown, source: string): StorageError | undefined {
  // A credentials answer is a few KiB: one past the bound is an endpoint or proxy gone wrong, and asking
  // again would fetch the same; Secrets Manager itself was never reached.
  return credentialEndpointCutError(error, {
    provider: PROVIDER,
    source: `${source} of the AWS default credential chain`,
    hint: 'check the endpoint variables, the region and any proxy',
  });
}

/** A cut body, or this library's own error (a token file refused): final, never retried or passed over. */
const isFinal = (error: unknown) => error instanceof ResponseTooLargeError || error instanceof StorageError;

/** One metadata or container-credentials request: where to, and the SDK's idle timeout. */
interface EndpointRequest {
  protocol?: string | undefined;
  hostname: string;
  port?: number | undefined;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  /** The SDK's `timeout`: the socket may stay idle this long (connecting included). */
  timeout: number;
  limit: number;
  /** Whether an answer with this status has its body read (the SDK rejects IMDS errors at the head). */
  readBody(status: number): boolean;
}

/**
 * One request, its answer body read through the bound. Failures take the shape of the SDK's own (a
 * ProviderError with `statusCode`, its messages), so its fallback rules (IMDSv1 on 403, 404, 405) still apply.
 */
function requestEndpoint(request: EndpointRequest): Promise<{ status: number; body: Buffer }> {
  const { ProviderError } = smithyConfig();
  return new Promise((resolve, reject) => {
    const send = request.protocol === 'https:' ? https.request : http.request;
    const req = send({
      method: request.method ?? 'GET',
      protocol: request.protocol ?? 'http:',
      hostname: request.hostname.replace(/^\[(.+)\]$/, '$1'),
      port: request.port,
      path: request.path,
      headers: request.headers,
      timeout: request.timeout,
      agent: false,
    });
    req.on('error', (error: Error & { code?: string }) => {
      // Node's own errors hold no header value; only their code is kept.
      reject(
        Object.assign(new ProviderError('Unable to connect to instance metadata service'), {
          code: error.code,
        }),
      );
      req.destroy();
    });
    req.on('timeout', () => {
      reject(new ProviderError('TimeoutError from instance metadata service'));
      req.destroy();
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 400;
      if (!request.readBody(status)) {
        reject(
          Object.assign(new ProviderError('Error response received from instance metadata service'), {
            statusCode: status,
          }),
        );
        req.destroy();
        return;
      }
      readBoundedBody(res as ResponseBodyStream, request.limit, res.headers['content-length']).then(
        (body) => {
          resolve({ status, body });
          req.destroy();
        },
        (error: unknown) => {
          reject(error);
          req.destroy();
        },
      );
    });
    req.end();
  });
}

const isImdsCredentials = (value: unknown): value is Record<string, string> => {
  const v = value as Record<string, unknown> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v['AccessKeyId'] === 'string' &&
    typeof v['SecretAccessKey'] === 'string' &&
    typeof v['Token'] === 'string' &&
    typeof v['Expiration'] === 'string'
  );
};

/** JSON of a credentials answer; a parse error's message can quote the body (credentials), so it is dropped. */
function parseAnswer(body: Buffer, init: ChainInit, what: string, tryNextLink = false): unknown {
  try {
    return JSON.parse(body.toString());
  } catch {
    throw new (smithyConfig().CredentialsProviderError)(`${what} answered with a body that is not JSON`, {
      logger: init.logger,
      tryNextLink,
    });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The SDK's retry loops, except that a cut body is final: asking again would fetch the same. */
async function retrying<T>(attempt: () => Promise<T>, retries: number, pauseMs = 0): Promise<T> {
  for (let i = 0; i < retries; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (isFinal(error)) throw error;
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }
  return attempt();
}

function cutAs(source: string) {
  return (error: unknown): never => {
    throw credentialEndpointCut(error, source) ?? error;
  };
}

// --- Container credentials (ECS, EKS Pod Identity, Greengrass): @aws-sdk/credential-provider-http's fromHttp
// then @smithy/credential-provider-imds's fromContainerMetadata, with their checks, retries and timeouts.

const CONTAINER_SOURCE = 'the container credentials endpoint';
const ECS_HOST = '169.254.170.2';

/** fromHttp's rule: https anywhere, http only to the ECS/EKS hosts and loopback. */
function checkContainerUrl(url: URL, init: ChainInit): void {
  if (url.protocol === 'https:') return;
  const host = url.hostname;
  if (host === ECS_HOST || host === '169.254.170.23' || host === '[fd00:ec2::23]') return;
  if (host === '[::1]' || host === '[0000:0000:0000:0000:0000:0000:0000:0001]' || host === 'localhost')
    return;
  const parts = host.split('.');
  const inRange = (part: string | undefined) => {
    const n = Number.parseInt(part ?? '', 10);
    return n >= 0 && n <= 255;
  };
  if (parts.length === 4 && parts[0] === '127' && parts.slice(1).every(inRange)) return;
  throw new (smithyConfig().CredentialsProviderError)(
    `URL not accepted. It must either be HTTPS or match one of the following:
  - loopback CIDR 127.0.0.0/8 or [::1/128]
  - ECS container host 169.254.170.2
  - EKS container host 169.254.170.23 or [fd00:ec2::23]`,
    { logger: init.logger },
  );
}

function warner(init: ChainInit): (message: string) => void {
  const logger = init.logger;
  return logger?.constructor?.name === 'NoOpLogger' || !logger?.warn
    ? (message) => console.warn(message)
    : (message) => logger.warn?.(message);
}

function validToken(token: string): string {
  if (token.includes('\r\n')) {
    throw new (smithyConfig().CredentialsProviderError)(
      'Authorization token contains invalid \\r\\n sequence.',
    );
  }
  return token;
}

function fromContainerHttp(init: ChainInit, limit: number): () => Promise<Credentials> {
  const { CredentialsProviderError } = smithyConfig();
  const env = process.env;
  const relative = init.awsContainerCredentialsRelativeUri ?? env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'];
  const full = init.awsContainerCredentialsFullUri ?? env['AWS_CONTAINER_CREDENTIALS_FULL_URI'];
  const token = init.awsContainerAuthorizationToken ?? env['AWS_CONTAINER_AUTHORIZATION_TOKEN'];
  const tokenFile = init.awsContainerAuthorizationTokenFile ?? env['AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE'];
  const warn = warner(init);
  if (relative && full) {
    warn(
      '@aws-sdk/credential-provider-http: you have set both awsContainerCredentialsRelativeUri and awsContainerCredentialsFullUri.',
    );
    warn('awsContainerCredentialsRelativeUri will take precedence.');
  }
  if (token && tokenFile) {
    warn(
      '@aws-sdk/credential-provider-http: you have set both awsContainerAuthorizationToken and awsContainerAuthorizationTokenFile.',
    );
    warn('awsContainerAuthorizationTokenFile will take precedence.');
  }
  const host = relative ? `http://${ECS_HOST}${relative}` : full;
  if (!host) {
    throw new CredentialsProviderError(
      'No HTTP credential provider host provided.\nSet AWS_CONTAINER_CREDENTIALS_FULL_URI or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI.',
      { logger: init.logger },
    );
  }
  const url = new URL(host);
  checkContainerUrl(url, init);
  const timeout = init.timeout ?? 1000;
  const attempt = async (): Promise<Credentials> => {
    const headers: Record<string, string> = {};
    if (tokenFile) {
      // The SDK reads this file whole on every attempt; it gets the token-file bound here.
      const read = await readBoundedFile(tokenFile, {
        maxBytes: FILE_SIZE_LIMITS.token,
        what: 'the container authorization token file',
        option: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
        provider: PROVIDER,
        operation: 'connect',
      });
      headers['Authorization'] = validToken(read.toString());
    } else if (token) {
      headers['Authorization'] = validToken(token);
    }
    let answer: { status: number; body: Buffer };
    try {
      answer = await requestEndpoint({
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port ? Number(url.port) : undefined,
        path: url.pathname + url.search,
        headers,
        timeout,
        limit,
        readBody: () => true,
      });
    } catch (error) {
      if (isFinal(error)) throw error;
      throw new CredentialsProviderError(String(error), { logger: init.logger });
    }
    const { status, body } = answer;
    if (status === 200) {
      // fromHttp wraps a parse error like any other (the legacy provider is tried next); the legacy one does not.
      const parsed = parseAnswer(body, init, CONTAINER_SOURCE, true);
      if (!isImdsCredentials(parsed)) {
        throw new CredentialsProviderError(
          'HTTP credential provider response not of the required format, an object matching: { AccessKeyId: string, SecretAccessKey: string, Token: string, Expiration: string(rfc3339) }',
          { logger: init.logger },
        );
      }
      const { parseRfc3339DateTime } = sdkPart<{ parseRfc3339DateTime(value: string): Date }>(
        '@smithy/core/serde',
      );
      return setCredentialFeature(
        {
          accessKeyId: parsed['AccessKeyId']!,
          secretAccessKey: parsed['SecretAccessKey']!,
          sessionToken: parsed['Token']!,
          expiration: parseRfc3339DateTime(parsed['Expiration']!),
        },
        'CREDENTIALS_HTTP',
        'z',
      );
    }
    const error = new CredentialsProviderError(`Server responded with status: ${status}`, {
      logger: init.logger,
    });
    if (status >= 400 && status < 500) {
      let parsed: { Code?: unknown; Message?: unknown } = {};
      try {
        parsed = JSON.parse(body.toString()) as typeof parsed;
      } catch {}
      throw Object.assign(error, { Code: parsed.Code, Message: parsed.Message });
    }
    throw error;
  };
  return () => retrying(attempt, init.maxRetries ?? 3, timeout);
}

/** The legacy ECS provider the SDK falls back to: `AWS_CONTAINER_AUTHORIZATION_TOKEN` only, no token file. */
function fromContainerMetadata(init: ChainInit, limit: number): () => Promise<Credentials> {
  const { CredentialsProviderError } = smithyConfig();
  const timeout = init.timeout ?? 1000;
  const target = (): { protocol?: string; hostname: string; port?: number | undefined; path: string } => {
    const relative = process.env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'];
    if (relative) return { hostname: ECS_HOST, path: relative };
    const full = process.env['AWS_CONTAINER_CREDENTIALS_FULL_URI'];
    if (full) {
      let parsed: URL;
      try {
        parsed = new URL(full);
      } catch {
        throw new CredentialsProviderError(`${full} is not a valid container metadata service URL`, {
          tryNextLink: false,
          logger: init.logger,
        });
      }
      if (!['localhost', '127.0.0.1'].includes(parsed.hostname)) {
        throw new CredentialsProviderError(
          `${parsed.hostname} is not a valid container metadata service hostname`,
          { tryNextLink: false, logger: init.logger },
        );
      }
      if (!['http:', 'https:'].includes(parsed.protocol)) {
        throw new CredentialsProviderError(
          `${parsed.protocol} is not a valid container metadata service protocol`,
          { tryNextLink: false, logger: init.logger },
        );
      }
      return {
        protocol: parsed.protocol,
        hostname: parsed.hostname,
        path: parsed.pathname + parsed.search,
        port: parsed.port ? Number.parseInt(parsed.port, 10) : undefined,
      };
    }
    throw new CredentialsProviderError(
      'The container metadata credential provider cannot be used unless the AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or AWS_CONTAINER_CREDENTIALS_FULL_URI environment variable is set',
      { tryNextLink: false, logger: init.logger },
    );
  };
  const attempt = async (): Promise<Credentials> => {
    const token = process.env['AWS_CONTAINER_AUTHORIZATION_TOKEN'];
    const { body } = await requestEndpoint({
      ...target(),
      ...(token ? { headers: { Authorization: token } } : {}),
      timeout,
      limit,
      readBody: (status) => status >= 200 && status < 300,
    });
    const parsed = parseAnswer(body, init, CONTAINER_SOURCE);
    if (!isImdsCredentials(parsed)) {
      throw new CredentialsProviderError('Invalid response received from instance metadata service.', {
        logger: init.logger,
      });
    }
    return fromImdsCredentials(parsed);
  };
  return () => retrying(attempt, init.maxRetries ?? 0);
}

const fromImdsCredentials = (c: Record<string, string>): Credentials => ({
  accessKeyId: c['AccessKeyId']!,
  secretAccessKey: c['SecretAccessKey']!,
  sessionToken: c['Token']!,
  expiration: new Date(c['Expiration']!),
  ...(c['AccountId'] ? { accountId: c['AccountId'] } : {}),
});

// --- EC2 instance metadata: @smithy/credential-provider-imds's fromInstanceMetadata (IMDSv2 token, then the
// role, then its credentials; the IMDSv1 fallback and its blocks; static stability for expired answers).

const IMDS_SOURCE = 'the EC2 instance metadata service';
const IMDS_PATH = '/latest/meta-data/iam/security-credentials/';
const TOKEN_HEADER = 'x-aws-ec2-metadata-token';

function fromInstanceMetadata(init: ChainInit, limit: number): () => Promise<Credentials> {
  const { CredentialsProviderError, loadConfig } = smithyConfig();
  const timeout = init.timeout ?? 1000;
  const maxRetries = init.maxRetries ?? 0;
  let disableFetchToken = false;
  type Target = { protocol?: string; hostname: string; port?: number | undefined };
  const get = async (target: Target, path: string, headers?: Record<string, string>) =>
    (
      await requestEndpoint({
        ...target,
        path,
        ...(headers ? { headers } : {}),
        timeout,
        limit,
        readBody: (status) => status >= 200 && status < 300,
      })
    ).body.toString();
  const on401 = (error: unknown): never => {
    if ((error as { statusCode?: number }).statusCode === 401) disableFetchToken = false;
    throw error;
  };
  const credentialsFor = async (target: Target, token: string | undefined): Promise<Credentials> => {
    if (disableFetchToken || token === undefined) {
      let fromEnv = false;
      let fromProfile = false;
      const blocked = await loadConfig(
        {
          environmentVariableSelector: (env) => {
            const value = env['AWS_EC2_METADATA_V1_DISABLED'];
            fromEnv = !!value && value !== 'false';
            if (value === undefined) {
              throw new CredentialsProviderError(
                'AWS_EC2_METADATA_V1_DISABLED not set in env, checking config file next.',
                { logger: init.logger },
              );
            }
            return fromEnv;
          },
          configFileSelector: (profile) => {
            const value = profile['ec2_metadata_v1_disabled'];
            fromProfile = !!value && value !== 'false';
            return fromProfile;
          },
          default: false,
        },
        { profile: init.profile },
      )();
      if (init.ec2MetadataV1Disabled || blocked) {
        const causes: string[] = [];
        if (init.ec2MetadataV1Disabled)
          causes.push('credential provider initialization (runtime option ec2MetadataV1Disabled)');
        if (fromProfile) causes.push('config file profile (ec2_metadata_v1_disabled)');
        if (fromEnv) causes.push('process environment variable (AWS_EC2_METADATA_V1_DISABLED)');
        const error = new CredentialsProviderError(
          `AWS EC2 Metadata v1 fallback has been blocked by AWS SDK configuration in the following: [${causes.join(', ')}].`,
          true,
        );
        error.name = 'InstanceMetadataV1FallbackError';
        throw error;
      }
    }
    const headers = token === undefined ? undefined : { [TOKEN_HEADER]: token };
    const role = (await retrying(() => get(target, IMDS_PATH, headers).catch(on401), maxRetries)).trim();
    return retrying(async () => {
      const body = await get(target, IMDS_PATH + role, headers).catch(on401);
      const parsed = parseAnswer(Buffer.from(body), init, IMDS_SOURCE);
      if (!isImdsCredentials(parsed)) {
        throw new CredentialsProviderError('Invalid response received from instance metadata service.', {
          logger: init.logger,
        });
      }
      return fromImdsCredentials(parsed);
    }, maxRetries);
  };
  const provider = async (): Promise<Credentials> => {
    const target = await imdsModule().getInstanceMetadataEndpoint();
    if (disableFetchToken) return credentialsFor(target, undefined);
    let token: string;
    try {
      token = (
        await requestEndpoint({
          ...target,
          path: '/latest/api/token',
          method: 'PUT',
          headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' },
          timeout,
          limit,
          readBody: (status) => status >= 200 && status < 300,
        })
      ).body.toString();
    } catch (error) {
      // A cut token answer is not a missing IMDSv2: it ends here instead of falling back to v1.
      if (isFinal(error)) throw error;
      const { statusCode, message } = error as { statusCode?: number; message?: string };
      if (statusCode === 400)
        throw Object.assign(error as Error, { message: 'EC2 Metadata token request returned error' });
      if (message === 'TimeoutError' || [403, 404, 405].includes(statusCode ?? 0)) disableFetchToken = true;
      init.logger?.debug?.('AWS SDK Instance Metadata', 'using v1 fallback (initial)');
      return credentialsFor(target, undefined);
    }
    return credentialsFor(target, token);
  };
  // staticStabilityProvider: an answer already expired is used for 5 to 10 more minutes, with a warning.
  return async () => {
    const credentials = await provider();
    if (credentials.expiration && credentials.expiration.getTime() < Date.now()) {
      const expiration = new Date(Date.now() + (300 + Math.floor(Math.random() * 300)) * 1000);
      (init.logger?.warn ? init.logger : console).warn?.(
        `Attempting credential expiration extension due to a credential service availability issue. A refresh of these credentials will be attempted after ${expiration}.\nFor more information, please visit: https://docs.aws.amazon.com/sdkref/latest/guide/feature-static-credentials.html`,
      );
      return { ...credentials, originalExpiration: credentials.expiration, expiration };
    }
    return credentials;
  };
}

/** The SDK's container step: fromHttp, then the legacy provider when fromHttp passes. */
function remoteContainer(init: ChainInit, limit: number): Promise<Credentials> {
  const { chain } = smithyConfig();
  return chain(fromContainerHttp(init, limit), fromContainerMetadata(init, limit))().catch(
    cutAs(CONTAINER_SOURCE),
  );
}

/** The SDK's remoteProvider, with the bounded providers. */
async function remoteCredentials(init: ChainInit, limit: number): Promise<Credentials> {
  const { CredentialsProviderError } = smithyConfig();
  const env = process.env;
  if (env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'] || env['AWS_CONTAINER_CREDENTIALS_FULL_URI']) {
    init.logger?.debug?.('nebula-credential - remoteProvider::fromHttp/fromContainerMetadata (bounded)');
    return remoteContainer(init, limit);
  }
  const disabled = env['AWS_EC2_METADATA_DISABLED'];
  if (disabled && disabled !== 'false') {
    throw new CredentialsProviderError('EC2 Instance Metadata Service access disabled', {
      logger: init.logger,
    });
  }
  init.logger?.debug?.('nebula-credential - remoteProvider::fromInstanceMetadata (bounded)');
  return fromInstanceMetadata(init, limit)().catch(cutAs(IMDS_SOURCE));
}

// --- Profiles that are a `credential_process`, or whose role chain ends in one or in `credential_source =
// EcsContainer | Ec2InstanceMetadata`. The SDK's fromIni resolves those by calling its own unbounded providers,
// with no hook; such a profile is resolved here instead, as fromIni's resolveProfileData and
// resolveAssumeRoleCredentials do (their order of profile kinds, the STS role assumer, its parameters, the
// region of the profile named), with the bounded providers as the source. Every other profile goes to fromIni.

const BOUNDED_SOURCES = new Set(['EcsContainer', 'Ec2InstanceMetadata']);

/** Where a bounded profile chain gets its first credentials. */
type BoundedSource = 'EcsContainer' | 'Ec2InstanceMetadata' | { process: string };

const isStaticProfile = (p: Profile | undefined) =>
  typeof p?.['aws_access_key_id'] === 'string' && typeof p['aws_secret_access_key'] === 'string';
const isAssumeRoleProfile = (p: Profile | undefined) =>
  typeof p?.['role_arn'] === 'string' &&
  (typeof p['source_profile'] === 'string') !== (typeof p['credential_source'] === 'string');
const isSourceWithoutRole = (p: Profile | undefined) => !p?.['role_arn'] && !!p?.['credential_source'];
const isWebIdentityProfile = (p: Profile | undefined) =>
  typeof p?.['web_identity_token_file'] === 'string' && typeof p['role_arn'] === 'string';
/** fromIni takes static keys and web identity before a profile's credential_process. */
const isProcessProfile = (p: Profile | undefined) =>
  typeof p?.['credential_process'] === 'string' && !isStaticProfile(p) && !isWebIdentityProfile(p);

/**
 * The role profiles from the one named down to the source of the chain, when that source is a container or
 * instance-metadata `credential_source` or a profile's `credential_process` (the named one itself, with no
 * roles); undefined otherwise (fromIni then resolves it, and reports cycles and bad profiles in its words).
 */
function boundedSourceChain(
  profiles: Record<string, Profile | undefined>,
  name: string,
): { roles: Profile[]; source: BoundedSource } | undefined {
  const roles: Profile[] = [];
  const visited = new Set<string>([name]);
  let profile = profiles[name];
  if (!isAssumeRoleProfile(profile)) {
    return isProcessProfile(profile) ? { roles, source: { process: name } } : undefined;
  }
  for (;;) {
    roles.push(profile!);
    const source = profile!['credential_source'];
    if (source !== undefined) {
      return BOUNDED_SOURCES.has(source) ? { roles, source: source as BoundedSource } : undefined;
    }
    const next = profile!['source_profile']!;
    if (visited.has(next)) return undefined;
    visited.add(next);
    profile = profiles[next];
    // fromIni takes static keys of a source profile first, even with a role_arn beside them.
    if (isStaticProfile(profile)) return undefined;
    if (isAssumeRoleProfile(profile) || isSourceWithoutRole(profile)) continue;
    return isProcessProfile(profile) ? { roles, source: { process: next } } : undefined;
  }
}

type RoleAssumer = (source: Credentials, params: Record<string, unknown>) => Promise<Credentials>;

/** A profile's credential_process through the bounded runner, as the SDK's fromProcess marks it. */
async function processCredentials(
  name: string,
  profiles: Record<string, Profile | undefined>,
  transport: BoundedCredentialTransport,
  properties: Record<string, unknown> | undefined,
): Promise<Credentials> {
  const credentials = await runCredentialProcess(name, profiles, {
    timeoutMs: transport.processTimeoutMs,
    stop: properties?.[CHAIN_STOP_SIGNAL] as AbortSignal | undefined,
  });
  return setCredentialFeature(credentials, 'CREDENTIALS_PROCESS', 'w');
}

async function fromBoundedCredentialSource(
  init: ChainInit,
  transport: BoundedCredentialTransport,
  properties: Record<string, unknown> | undefined,
): Promise<(() => Promise<Credentials>) | undefined> {
  const { parseKnownFiles, getProfileName, CredentialsProviderError } = smithyConfig();
  const caller = properties?.['callerClientConfig'] as ChainInit | undefined;
  const name = getProfileName({ profile: init.profile ?? caller?.profile });
  const profiles = await parseKnownFiles(init);
  const found = boundedSourceChain(profiles, name);
  if (!found) return undefined;
  const { roles: chain, source } = found;
  const limit = transport.limit;
  return async () => {
    const named = (c: Credentials) => setCredentialFeature(c, 'CREDENTIALS_PROFILE_NAMED_PROVIDER', 'p');
    let credentials =
      typeof source === 'object'
        ? setCredentialFeature(
            await processCredentials(source.process, profiles, transport, properties),
            'CREDENTIALS_PROFILE_PROCESS',
            'v',
          )
        : source === 'EcsContainer'
          ? named(await remoteContainer(init, limit))
          : named(await fromInstanceMetadata(init, limit)().catch(cutAs(IMDS_SOURCE)));
    if (chain.length === 0) return credentials;
    const parent = init['parentClientConfig'] as ChainInit | undefined;
    const { getDefaultRoleAssumer } = sdkPart<{
      getDefaultRoleAssumer(options: Record<string, unknown>, plugins: unknown): RoleAssumer;
    }>('@aws-sdk/nested-clients/sts', [NODE_CHAIN, '@aws-sdk/credential-provider-ini']);
    const assume =
      (init['roleAssumer'] as RoleAssumer | undefined) ??
      getDefaultRoleAssumer(
        {
          ...init.clientConfig,
          credentialProviderLogger: init.logger,
          parentClientConfig: {
            ...caller,
            ...parent,
            region: chain[0]!['region'] ?? parent?.['region'] ?? caller?.['region'],
          },
        },
        init['clientPlugins'],
      );
    for (const profile of [...chain].reverse()) {
      if (isSourceWithoutRole(profile)) continue;
      const params: Record<string, unknown> = {
        RoleArn: profile['role_arn'],
        RoleSessionName: profile['role_session_name'] || `aws-sdk-js-${Date.now()}`,
        ExternalId: profile['external_id'],
        DurationSeconds: Number.parseInt(profile['duration_seconds'] || '3600', 10),
      };
      const mfa = profile['mfa_serial'];
      if (mfa) {
        const codes = init['mfaCodeProvider'] as ((serial: string) => Promise<string>) | undefined;
        if (!codes) {
          throw new CredentialsProviderError(
            `Profile ${name} requires multi-factor authentication, but no MFA code callback was provided.`,
            { logger: init.logger, tryNextLink: false },
          );
        }
        params['SerialNumber'] = mfa;
        params['TokenCode'] = await codes(mfa);
      }
      credentials = await assume(credentials, params);
    }
    return setCredentialFeature(credentials, 'CREDENTIALS_PROFILE_SOURCE_PROFILE', 'o');
  };
}

let multipleSourcesWarned = false;

/**
 * A `credentialDefaultProvider` for the Secrets Manager client: the SDK's default chain, in its order and
 * with its caching (`memoizeChain`: refreshed five minutes before expiry, in the background while the old
 * credentials still work), whose every answer body is read through `transport.limit`: the SSO client (and
 * its OIDC token refresh) sends with the bounded handler, and container credentials and instance metadata
 * are read by bounded copies of the SDK's providers. A cut fails with `Unavailable`, not retryable.
 *
 * @example
 * ```ts
 * const client = new SecretsManagerClient({
 *   requestHandler: handler,
 *   credentialDefaultProvider: boundedDefaultProvider({ requestHandler: handler, limit, cuts: { count: 0 } }),
 * });
 * ```
 *
 * @internal
 */
export function boundedDefaultProvider(
  transport: BoundedCredentialTransport,
): (init: ChainInit) => CredentialProvider {
  return (clientInit) => {
    // clientConfig is what fromIni and fromSSO spread into the SSO (and SSO OIDC, STS) clients they create.
    const init: ChainInit = {
      ...clientInit,
      clientConfig: { ...clientInit.clientConfig, requestHandler: transport.requestHandler },
    };
    const { CredentialsProviderError, ENV_PROFILE } = smithyConfig();
    const node = () => sdkPart<{ credentialsTreatedAsExpired(c: Credentials): boolean }>(NODE_CHAIN, []);
    /** The SSO client's cut arrives as a message only (fromSSO re-wraps it); the handler kept the error. */
    const throughHandler =
      (step: CredentialProvider, source: string): CredentialProvider =>
      async (properties) => {
        const before = transport.cuts.count;
        try {
          return await step(properties);
        } catch (error) {
          const cut = transport.cuts.count > before ? transport.cuts.last : undefined;
          throw (cut && credentialEndpointCut(cut, source)) ?? error;
        }
      };
    /** The SDK reads the shared files, SSO cache and token files whole: each is checked first. */
    const checkedFiles =
      (step: CredentialProvider): CredentialProvider =>
      async (properties) => {
        await checkChainFiles(init);
        return step(properties);
      };
    const steps: CredentialProvider[] = [
      async () => {
        const profile = init.profile ?? process.env[ENV_PROFILE];
        if (profile) {
          if (
            process.env['AWS_ACCESS_KEY_ID'] &&
            process.env['AWS_SECRET_ACCESS_KEY'] &&
            !multipleSourcesWarned
          ) {
            multipleSourcesWarned = true;
            warner(init)(
              '@aws-sdk/credential-provider-node - defaultProvider::fromEnv WARNING: both AWS_PROFILE and the pair AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY static credentials are set. This SDK will proceed with the AWS_PROFILE value.',
            );
          }
          throw new CredentialsProviderError('AWS_PROFILE is set, skipping fromEnv provider.', {
            logger: init.logger,
            tryNextLink: true,
          });
        }
        const { fromEnv } = sdkPart<{ fromEnv(i: ChainInit): CredentialProvider }>(
          '@aws-sdk/credential-provider-env',
        );
        return fromEnv(init)();
      },
      throughHandler(
        checkedFiles(async (properties) => {
          const { ssoStartUrl, ssoAccountId, ssoRegion, ssoRoleName, ssoSession } = init;
          if (!ssoStartUrl && !ssoAccountId && !ssoRegion && !ssoRoleName && !ssoSession) {
            throw new CredentialsProviderError(
              'Skipping SSO provider in default chain (inputs do not include SSO fields).',
              { logger: init.logger },
            );
          }
          const { fromSSO } = sdkPart<{ fromSSO(i: ChainInit): CredentialProvider }>(
            '@aws-sdk/credential-provider-sso',
          );
          return fromSSO(init)(properties);
        }),
        'the AWS SSO portal',
      ),
      // Shared files: static keys, assume role (STS), web identity, process, SSO profiles (sso_session or
      // legacy), whose SSO client gets the bounded handler through init.clientConfig.
      throughHandler(
        checkedFiles(async (properties) => {
          const bounded = await fromBoundedCredentialSource(init, transport, properties);
          if (bounded) return bounded();
          const { fromIni } = sdkPart<{ fromIni(i: ChainInit): CredentialProvider }>(
            '@aws-sdk/credential-provider-ini',
          );
          return fromIni(init)(properties);
        }),
        'the AWS SSO portal or STS',
      ),
      // The SDK's fromProcess, with the bounded runner.
      checkedFiles(async (properties) => {
        init.logger?.debug?.('nebula-credential - fromProcess (bounded)');
        const { parseKnownFiles, getProfileName } = smithyConfig();
        const caller = properties?.['callerClientConfig'] as ChainInit | undefined;
        const name = getProfileName({ profile: init.profile ?? caller?.profile });
        const profiles = await parseKnownFiles(init);
        if (!profiles[name]) {
          throw new CredentialsProviderError(
            `Profile ${name} could not be found in shared credentials file.`,
            { logger: init.logger },
          );
        }
        if (profiles[name]['credential_process'] === undefined) {
          throw new CredentialsProviderError(`Profile ${name} did not contain credential_process.`, {
            logger: init.logger,
          });
        }
        return processCredentials(name, profiles, transport, properties);
      }),
      checkedFiles(async (properties) => {
        const { fromTokenFile } = sdkPart<{ fromTokenFile(i: ChainInit): CredentialProvider }>(
          '@aws-sdk/credential-provider-web-identity',
        );
        return fromTokenFile(init)(properties);
      }),
      () => remoteCredentials(init, transport.limit),
      async () => {
        throw new CredentialsProviderError('Could not load credentials from any providers', {
          tryNextLink: false,
          logger: init.logger,
        });
      },
    ];
    return memoizeChain(steps, (c) => node().credentialsTreatedAsExpired(c));
  };
}

/** The SDK's memoizeChain (not exported by it): one resolution at a time, refreshed ahead of expiry. */
function memoizeChain(
  steps: CredentialProvider[],
  treatAsExpired: (c: Credentials) => boolean,
): CredentialProvider {
  const run = async (properties?: Record<string, unknown>): Promise<Credentials> => {
    let last: unknown;
    for (const step of steps) {
      try {
        return await step(properties);
      } catch (error) {
        last = error;
        if ((error as { tryNextLink?: boolean } | null)?.tryNextLink) continue;
        throw error;
      }
    }
    throw last;
  };
  let active: Promise<void> | undefined;
  let passive: Promise<void> | undefined;
  let forced: Promise<void> | undefined;
  let credentials: Credentials | undefined;
  const provider: CredentialProvider = async (options) => {
    if (options?.['forceRefresh']) {
      forced ??= run(options)
        .then((c) => {
          credentials = c;
        })
        .finally(() => {
          forced = undefined;
        });
      await forced;
      return credentials!;
    }
    if (credentials?.expiration && credentials.expiration.getTime() < Date.now()) credentials = undefined;
    if (active) {
      await active;
    } else if (!credentials || treatAsExpired(credentials)) {
      if (credentials) {
        // In the background: until it lands, callers get the credentials that still work.
        if (!passive) {
          passive = run(options)
            .then((c) => {
              credentials = c;
            })
            .catch(() => {})
            .finally(() => {
              passive = undefined;
            });
        }
      } else {
        active = run(options)
          .then((c) => {
            credentials = c;
          })
          .finally(() => {
            active = undefined;
          });
        return provider(options);
      }
    }
    return credentials!;
  };
  return provider;
}
