import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * What {@link parseSigV4Authorization} reads from an `Authorization: AWS4-HMAC-SHA256 ...` header.
 *
 * @example
 * ```ts
 * const auth: SigV4Authorization = { accessKeyId: 'AKID', date: '20260101', region: 'us-east-1',
 *   service: 'secretsmanager', signedHeaders: ['host', 'x-amz-date'], signature: '00' };
 * ```
 */
export interface SigV4Authorization {
  accessKeyId: string;
  /** `YYYYMMDD` of the credential scope. */
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/**
 * Why a request's signature was refused, with the AWS error code the service answers with.
 *
 * @example
 * ```ts
 * const failure: SigV4Failure = { code: 'InvalidSignatureException', message: 'The request signature we calculated does not match' };
 * ```
 */
export interface SigV4Failure {
  code:
    | 'MissingAuthenticationTokenException'
    | 'IncompleteSignatureException'
    | 'InvalidSignatureException'
    | 'UnrecognizedClientException';
  message: string;
}

/**
 * Parses the SigV4 `Authorization` header; `undefined` when it is not a well-formed AWS4-HMAC-SHA256 one.
 *
 * @example
 * ```ts
 * import { parseSigV4Authorization } from 'nebula-credential/testing';
 * parseSigV4Authorization('AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature=00');
 * ```
 */
export function parseSigV4Authorization(header: string | undefined): SigV4Authorization | undefined {
  if (!header?.startsWith('AWS4-HMAC-SHA256 ')) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.slice('AWS4-HMAC-SHA256 '.length).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential')?.split('/');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential?.length !== 5 || credential[4] !== 'aws4_request') return undefined;
  if (!signedHeaders || !signature) return undefined;
  const [accessKeyId, date, region, service] = credential as [string, string, string, string];
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

// RFC 3986 unreserved characters stay; everything else is %XX, as SigV4 requires.
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function canonicalQuery(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return '';
  const pairs = url
    .slice(q + 1)
    .split('&')
    .filter((p) => p.length > 0)
    .map((p) => {
      const eq = p.indexOf('=');
      const k = decodeURIComponent(eq < 0 ? p : p.slice(0, eq));
      const v = eq < 0 ? '' : decodeURIComponent(p.slice(eq + 1).replace(/\+/g, '%20'));
      return [uriEncode(k), uriEncode(v)] as const;
    });
  pairs.sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function canonicalPath(url: string): string {
  const path = url.split('?')[0] || '/';
  return path
    .split('/')
    .map((segment) => uriEncode(decodeURIComponent(segment)))
    .join('/');
}

/**
 * The SigV4 signature of a request, computed the way AWS computes it on the server side: canonical
 * request from the signed headers (values trimmed, inner whitespace collapsed), string to sign, and the
 * `AWS4` + secret HMAC key chain.
 *
 * @example
 * ```ts
 * import { computeSigV4Signature } from 'nebula-credential/testing';
 * const sig = computeSigV4Signature({ method: 'POST', url: '/', headers: { host: 'h', 'x-amz-date': '20260101T000000Z' },
 *   body: Buffer.from('{}'), signedHeaders: ['host', 'x-amz-date'], secretAccessKey: 'secret',
 *   date: '20260101', region: 'us-east-1', service: 'secretsmanager' });
 * ```
 */
export function computeSigV4Signature(input: {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  signedHeaders: readonly string[];
  secretAccessKey: string;
  date: string;
  region: string;
  service: string;
}): string {
  const headerLines = input.signedHeaders.map((name) => {
    const raw = input.headers[name];
    const value = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
    return `${name}:${value.trim().replace(/\s+/g, ' ')}`;
  });
  const payloadHash =
    typeof input.headers['x-amz-content-sha256'] === 'string' &&
    input.headers['x-amz-content-sha256'] === 'UNSIGNED-PAYLOAD'
      ? 'UNSIGNED-PAYLOAD'
      : sha256Hex(input.body);
  const canonicalRequest = [
    input.method,
    canonicalPath(input.url),
    canonicalQuery(input.url),
    ...headerLines,
    '',
    input.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const amzDate = String(input.headers['x-amz-date'] ?? '');
  const scope = `${input.date}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${input.secretAccessKey}`, input.date);
  key = hmac(key, input.region);
  key = hmac(key, input.service);
  key = hmac(key, 'aws4_request');
  return hmac(key, stringToSign).toString('hex');
}

function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/**
 * Verifies a request's SigV4 signature as Secrets Manager does; returns the access key id, or the AWS
 * error to answer with. `lookupSecret` gives the secret key (and session token) of an access key id.
 *
 * @example
 * ```ts
 * import { verifySigV4 } from 'nebula-credential/testing';
 * const result = verifySigV4(request, { region: 'us-east-1', service: 'secretsmanager', now: Date.now(),
 *   lookupSecret: (id) => (id === 'AKIDEXAMPLE' ? { secretAccessKey: 'secret' } : undefined) });
 * ```
 */
export function verifySigV4(
  request: { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer },
  options: {
    region: string;
    service: string;
    /** Wall-clock time used for the 5-minute skew check. */
    now: number;
    maxSkewMs?: number;
    lookupSecret: (accessKeyId: string) => { secretAccessKey: string; sessionToken?: string } | undefined;
  },
): { ok: true; accessKeyId: string } | { ok: false; failure: SigV4Failure } {
  const fail = (code: SigV4Failure['code'], message: string) =>
    ({ ok: false, failure: { code, message } }) as const;
  const header = request.headers.authorization;
  if (header === undefined) {
    return fail('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  const auth = parseSigV4Authorization(header);
  if (!auth) {
    return fail(
      'IncompleteSignatureException',
      `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization=${header.split(' ')[0]}`,
    );
  }
  const amzDate = request.headers['x-amz-date'];
  const signedAt = typeof amzDate === 'string' ? parseAmzDate(amzDate) : undefined;
  if (signedAt === undefined || !auth.signedHeaders.includes('host')) {
    return fail(
      'IncompleteSignatureException',
      'Authorization header requires existence of either a X-Amz-Date or a Date header, and the host header must be signed.',
    );
  }
  const key = options.lookupSecret(auth.accessKeyId);
  if (!key)
    return fail('UnrecognizedClientException', 'The security token included in the request is invalid.');
  if (auth.service !== options.service) {
    return fail(
      'InvalidSignatureException',
      `Credential should be scoped to correct service: '${options.service}'.`,
    );
  }
  if (auth.region !== options.region) {
    return fail(
      'InvalidSignatureException',
      `Credential should be scoped to a valid region, not '${auth.region}'.`,
    );
  }
  const skew = options.maxSkewMs ?? 5 * 60_000;
  if (Math.abs(options.now - signedAt) > skew) {
    const stamp = (t: number) => new Date(t).toISOString().replace(/[-:]|\.\d{3}/g, '');
    return fail(
      'InvalidSignatureException',
      `Signature expired: ${stamp(signedAt)} is now earlier than ${stamp(options.now - skew)} (${stamp(options.now)} - 5 min.)`,
    );
  }
  if (key.sessionToken !== undefined && request.headers['x-amz-security-token'] !== key.sessionToken) {
    return fail('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  const expected = computeSigV4Signature({
    method: request.method,
    url: request.url,
    headers: request.headers,
    body: request.body,
    signedHeaders: auth.signedHeaders,
    secretAccessKey: key.secretAccessKey,
    date: auth.date,
    region: auth.region,
    service: auth.service,
  });
  const given = Buffer.from(auth.signature, 'utf8');
  const wanted = Buffer.from(expected, 'utf8');
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
    return fail(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
  return { ok: true, accessKeyId: auth.accessKeyId };
}
