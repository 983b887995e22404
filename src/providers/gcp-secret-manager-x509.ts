// Workload identity federation with an x509 certificate source (credential_source.certificate), read by
// the library instead of google-auth-library: its CertificateSubjectTokenSupplier reads the certificate
// config, the certificate, the key and the trust chain with fs.readFile, whole (a FIFO holds a thread-pool
// thread until a writer comes, a huge file is read into memory), and IdentityPoolClient then exchanges the
// token over an mTLS Gaxios of its own, around the provider's bounded token transport. This reads the same
// files, found the same way, with the core bounded reader under the connect deadline, and hands the
// subject token to google-auth-library as a subject token supplier and the client certificate to the
// caller (who makes it the agent of the STS and impersonation transporters), so the exchange stays on the
// bounded token transport and still presents the certificate.

import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { StorageError } from '../core/errors.js';
import {
  type BoundedFileReadOptions,
  FILE_SIZE_LIMITS,
  readBoundedFile,
  readDeadline,
} from '../core/files.js';

const PROVIDER = 'gcp-secret-manager';
const WHAT = 'the workload identity x509 certificate source (credential_source.certificate)';
/** google-auth-library's CERTIFICATE_CONFIGURATION_ENV_VARIABLE. */
const CONFIG_ENV = 'GOOGLE_API_CERTIFICATE_CONFIG';
const OPTION = 'credential_source.certificate';
/** The files of the source, as messages name them, and their bounds. */
const CERT = {
  what: 'the workload identity client certificate',
  option: 'cert_configs.workload.cert_path',
  maxBytes: FILE_SIZE_LIMITS.caBundle,
};
const KEY = {
  what: 'the workload identity private key',
  option: 'cert_configs.workload.key_path',
  maxBytes: FILE_SIZE_LIMITS.keyFile,
};
const CHAIN = {
  what: 'the workload identity trust chain',
  option: `${OPTION}.trust_chain_path`,
  maxBytes: FILE_SIZE_LIMITS.caBundle,
};
const CONFIG = { what: 'the workload identity certificate config', maxBytes: FILE_SIZE_LIMITS.configFile };
/** google-auth-library's pattern for the certificates of a trust chain file. */
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/**
 * A client certificate and its private key, PEM, as an https agent takes them.
 *
 * @example
 * ```ts
 * const pair: ClientCertificatePair = { cert: readFileSync('workload.crt'), key: readFileSync('workload.key') };
 * ```
 *
 * @internal
 */
export interface ClientCertificatePair {
  cert: Buffer;
  key: Buffer;
}

/**
 * A subject token supplier for google-auth-library's IdentityPoolClient (`subject_token_supplier`), and the
 * stop of the attempt it reads for (set before each token request, so a read gives up at that deadline).
 *
 * @example
 * ```ts
 * supplier.signal = attempt.signal;
 * const token = await supplier.getSubjectToken();
 * ```
 *
 * @internal
 */
export interface X509SubjectTokenSupplier {
  getSubjectToken(): Promise<string>;
  /** The attempt's signal for the next read (the operation's deadline, or the provider closing). */
  signal: AbortSignal | undefined;
}

const invalid = (message: string, option: string, details: Record<string, unknown> = {}) =>
  new StorageError({
    code: 'InvalidConfig',
    message,
    provider: PROVIDER,
    operation: 'connect',
    details: { source: 'certificate', option, ...details, issues: [{ path: option, message }] },
  });

/** The certificate config's place, as google-auth-library finds it, and the setting that named it. */
function configLocation(
  source: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): { path: string; option: string; hint?: string } {
  const location = source['certificate_config_location'];
  if (typeof location === 'string' && location !== '') {
    return { path: location, option: `${OPTION}.certificate_config_location` };
  }
  const fromEnv = env[CONFIG_ENV];
  if (fromEnv) return { path: fromEnv, option: CONFIG_ENV };
  // getWellKnownCertificateConfigFileLocation: CLOUDSDK_CONFIG, else gcloud's folder of this platform.
  const gcloud =
    env['CLOUDSDK_CONFIG'] ||
    (process.platform === 'win32'
      ? join(env['APPDATA'] || '', 'gcloud')
      : join(env['HOME'] || homedir(), '.config', 'gcloud'));
  return {
    path: join(gcloud, 'certificate_config.json'),
    option: `${OPTION}.use_default_certificate_config`,
    hint: `set ${CONFIG_ENV} or certificate_config_location, or write it with gcloud iam workload-identity-pools create-cred-config`,
  };
}

/**
 * A subject token supplier for `credential_source.certificate` of a workload identity federation file, as
 * google-auth-library's CertificateSubjectTokenSupplier: exactly one of `use_default_certificate_config`
 * (the gcloud certificate config at GOOGLE_API_CERTIFICATE_CONFIG, else `certificate_config.json` in
 * CLOUDSDK_CONFIG or `~/.config/gcloud`) and `certificate_config_location`; the config's
 * `cert_configs.workload.cert_path` and `key_path`; an optional `trust_chain_path` of PEM certificates
 * whose first one is the leaf, or which lacks it (it is put first then). The subject token is the JSON array
 * of the certificates' base64 DER. Every file is read with the core bounded reader (regular files only,
 * `FILE_SIZE_LIMITS`, non-blocking) under `connectMs` or the attempt's signal; each token request reads
 * them again (a rotated certificate is picked up) and hands the pair to `onCertificate` before the
 * exchange. A missing, unreadable or malformed file, or a key that is not the certificate's, is
 * `InvalidConfig` naming the option and the file, never its content.
 *
 * @example
 * ```ts
 * const supplier = x509SubjectTokenSupplier(json, { connectMs: 2000, onCertificate: (pair) => useAgent(pair) });
 * const client = new IdentityPoolClient({ ...json, credential_source: undefined, subject_token_supplier: supplier });
 * ```
 *
 * @internal
 */
export function x509SubjectTokenSupplier(
  json: Record<string, unknown>,
  options: {
    connectMs: number;
    onCertificate: (pair: ClientCertificatePair) => void;
    env?: NodeJS.ProcessEnv | undefined;
  },
): X509SubjectTokenSupplier {
  const raw = (json['credential_source'] as { certificate?: unknown } | undefined)?.certificate;
  const source = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const useDefault = source['use_default_certificate_config'] === true;
  const location = source['certificate_config_location'];
  const hasLocation = typeof location === 'string' && location !== '';
  if (useDefault === hasLocation) {
    throw invalid(
      `${WHAT} needs exactly one of use_default_certificate_config: true and certificate_config_location (${useDefault ? 'both are' : 'neither is'} set)`,
      OPTION,
    );
  }
  const chainPath = source['trust_chain_path'];
  if (chainPath !== undefined && (typeof chainPath !== 'string' || chainPath === '')) {
    throw invalid(`${WHAT}: trust_chain_path must be a file path`, `${OPTION}.trust_chain_path`);
  }

  /** One of the source's files, read bounded for the token request under way. */
  const read = (
    path: string,
    file: Pick<BoundedFileReadOptions, 'what' | 'option' | 'maxBytes' | 'missingHint'>,
    signal: AbortSignal,
  ) => readBoundedFile(path, { ...file, provider: PROVIDER, operation: 'connect', signal });

  /** The config's cert_path and key_path. */
  const workloadPaths = async (signal: AbortSignal) => {
    const where = configLocation(source, options.env ?? process.env);
    const file = { ...CONFIG, option: where.option, missingHint: where.hint };
    const text = (await read(where.path, file, signal)).toString('utf8');
    const named = `${CONFIG.what} ${JSON.stringify(where.path)} (${where.option})`;
    let config: { cert_configs?: { workload?: { cert_path?: unknown; key_path?: unknown } } };
    try {
      config = JSON.parse(text) ?? {};
    } catch {
      throw invalid(`${named} is not JSON`, where.option, { path: where.path });
    }
    const workload = config?.cert_configs?.workload;
    const certPath = workload?.cert_path;
    const keyPath = workload?.key_path;
    if (typeof certPath !== 'string' || !certPath || typeof keyPath !== 'string' || !keyPath) {
      throw invalid(`${named} has no cert_configs.workload.cert_path and key_path`, where.option, {
        path: where.path,
      });
    }
    return { certPath, keyPath };
  };

  /** The parsed leaf and private key; errors name the file and why, never what was read. */
  const parsePair = (certPath: string, cert: Buffer, keyPath: string, key: Buffer) => {
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(cert);
    } catch {
      throw invalid(
        `${CERT.what} ${JSON.stringify(certPath)} (${CERT.option}) is not a PEM or DER certificate`,
        CERT.option,
        { path: certPath },
      );
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(key);
    } catch {
      // No cause: a parser's message is no place for key bytes to end up.
      throw invalid(
        `${KEY.what} ${JSON.stringify(keyPath)} (${KEY.option}) is not an unencrypted PEM private key`,
        KEY.option,
        { path: keyPath },
      );
    }
    // google-auth-library does not check: a wrong key would fail later as an obscure TLS handshake error.
    if (!leaf.checkPrivateKey(privateKey)) {
      throw invalid(
        `${KEY.what} ${JSON.stringify(keyPath)} (${KEY.option}) is not the key of the certificate ${JSON.stringify(certPath)}`,
        KEY.option,
        { path: keyPath },
      );
    }
    return leaf;
  };

  /** The subject token: the leaf, then the trust chain's certificates (the leaf first or absent there). */
  const chainOf = async (leaf: X509Certificate, signal: AbortSignal) => {
    if (typeof chainPath !== 'string') return [leaf];
    const { option } = CHAIN;
    const text = (await read(chainPath, CHAIN, signal)).toString('utf8');
    const named = `${CHAIN.what} ${JSON.stringify(chainPath)} (${option})`;
    const chain = (text.match(PEM_CERTIFICATE) ?? []).map((pem, index) => {
      try {
        return new X509Certificate(pem);
      } catch {
        throw invalid(`certificate ${index} of ${named} is not a valid certificate`, option, {
          path: chainPath,
        });
      }
    });
    const at = chain.findIndex((c) => c.raw.equals(leaf.raw));
    if (at > 0) {
      throw invalid(
        `${named} holds the client certificate at position ${at}: it must be the first one, or absent`,
        option,
        { path: chainPath },
      );
    }
    return at === 0 ? chain : [leaf, ...chain];
  };

  const supplier: X509SubjectTokenSupplier = {
    signal: undefined,
    async getSubjectToken() {
      const deadline = readDeadline(options.connectMs, WHAT, supplier.signal);
      try {
        const { signal } = deadline;
        const { certPath, keyPath } = await workloadPaths(signal);
        const cert = await read(certPath, CERT, signal);
        const key = await read(keyPath, KEY, signal);
        const leaf = parsePair(certPath, cert, keyPath, key);
        const chain = await chainOf(leaf, signal);
        // A TLS agent takes PEM: a DER certificate file is given as its PEM (a PEM one as it is, with any
        // intermediates it holds, which the handshake then sends).
        const pem = cert.includes('-----BEGIN') ? cert : Buffer.from(leaf.toString());
        options.onCertificate({ cert: pem, key });
        return JSON.stringify(chain.map((c) => c.raw.toString('base64')));
      } finally {
        deadline.clear();
      }
    },
  };
  return supplier;
}
