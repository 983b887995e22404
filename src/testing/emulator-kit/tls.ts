import {
  createHash,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A minimal DER writer: enough of X.509 to issue a CA and a loopback server certificate with node:crypto
// alone, so the emulators need no OpenSSL binary and no certificate package.
function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else if (n < 0x100) length = Buffer.from([0x81, n]);
  else if (n < 0x10000) length = Buffer.from([0x82, n >> 8, n & 0xff]);
  else length = Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}
const seq = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => der(0x31, Buffer.concat(items));
const octets = (b: Buffer) => der(0x04, b);
const bitString = (b: Buffer) => der(0x03, Buffer.concat([Buffer.from([0]), b]));
const bool = (v: boolean) => der(0x01, Buffer.from([v ? 0xff : 0]));
const explicit = (n: number, b: Buffer) => der(0xa0 + n, b);
const utf8 = (s: string) => der(0x0c, Buffer.from(s, 'utf8'));

function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return der(0x02, b);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [parts[0]! * 40 + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let v = part >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

function time(date: Date): Buffer {
  const iso = date.toISOString();
  const text = `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return der(0x17, Buffer.from(text, 'ascii'));
}

// O (organization) before CN, as openssl and kubeadm order the subject of a Kubernetes client certificate.
const name = (commonName: string, organizations: readonly string[] = []) =>
  seq(
    ...organizations.map((o) => set(seq(oid('2.5.4.10'), utf8(o)))),
    set(seq(oid('2.5.4.3'), utf8(commonName))),
  );
const extension = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

function keyIdentifier(publicKey: KeyObject): Buffer {
  return createHash('sha1')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest();
}

function ipBytes(ip: string): Buffer {
  if (ip.includes(':')) {
    const [head = '', tail = ''] = ip.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    return Buffer.from(groups.flatMap((g) => [Number.parseInt(g, 16) >> 8, Number.parseInt(g, 16) & 0xff]));
  }
  return Buffer.from(ip.split('.').map(Number));
}

interface IssueOptions {
  subject: string;
  publicKey: KeyObject;
  issuer: string;
  issuerKey: KeyObject;
  issuerPublicKey: KeyObject;
  ca: boolean;
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Subject O values (Kubernetes reads them as the user's groups). */
  organizations?: readonly string[];
  /** A TLS client certificate (extendedKeyUsage clientAuth) instead of a server one. */
  client?: boolean;
}

function issue(o: IssueOptions): string {
  const now = Date.now();
  const extensions = [
    extension('2.5.29.19', true, o.ca ? seq(bool(true)) : seq()),
    // keyUsage: digitalSignature, plus keyCertSign and cRLSign for the CA
    extension(
      '2.5.29.15',
      true,
      o.ca ? der(0x03, Buffer.from([1, 0x86])) : der(0x03, Buffer.from([7, 0x80])),
    ),
    extension('2.5.29.14', false, octets(keyIdentifier(o.publicKey))),
    extension('2.5.29.35', false, seq(der(0x80, keyIdentifier(o.issuerPublicKey)))),
  ];
  if (o.client) {
    extensions.push(extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.2'))));
  } else if (!o.ca) {
    extensions.push(extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))));
    const alt = [
      ...(o.dnsNames ?? []).map((d) => der(0x82, Buffer.from(d, 'ascii'))),
      ...(o.ipAddresses ?? []).map((ip) => der(0x87, ipBytes(ip))),
    ];
    extensions.push(extension('2.5.29.17', false, seq(...alt)));
  }
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(randomBytes(16)),
    ECDSA_SHA256,
    name(o.issuer),
    seq(time(new Date(now - 86_400_000)), time(new Date(now + 2 * 365 * 86_400_000))),
    name(o.subject, o.organizations),
    o.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, { key: o.issuerKey, dsaEncoding: 'der' });
  const certificate = seq(tbs, ECDSA_SHA256, bitString(signature));
  const body = certificate.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${body}${body.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

/** A private CA and a server certificate for loopback names, PEM-encoded, with the CA also on disk. */
export interface TestCertificateAuthority {
  /** The CA certificate (give it to clients as their trust root). */
  caCertPem: string;
  /** The CA certificate written to a temporary file (for `caCertPath`, kubeconfig, `AWS_CA_BUNDLE`). */
  caCertPath: string;
  /** Server certificate for `localhost`, `127.0.0.1` and `::1`, signed by the CA. */
  serverCertPem: string;
  serverKeyPem: string;
  /**
   * Issues a TLS client certificate signed by the CA, subject CN `commonName` and one O per entry of
   * `organizations` (a Kubernetes API server's user and groups). `notAfter` defaults to two years ahead.
   */
  issueClientCertificate(
    commonName: string,
    organizations?: readonly string[],
  ): { certPem: string; keyPem: string };
  /** Removes the temporary directory holding `caCertPath` (idempotent). The emulator that made the CA calls it on stop. */
  dispose(): void;
}

/**
 * Generates a fresh ECDSA P-256 CA and a server certificate for `localhost`, `127.0.0.1` and `::1`
 * (plus any extra DNS names, such as `myvault.vault.azure.net`). Used by every emulator's https mode.
 *
 * @example
 * ```ts
 * import { createTestCertificateAuthority } from 'nebula-credential/testing';
 * import https from 'node:https';
 * const ca = createTestCertificateAuthority();
 * const server = https.createServer({ cert: ca.serverCertPem, key: ca.serverKeyPem });
 * // ... server.close(); ca.dispose(); // removes the CA file's temporary directory
 * ```
 */
export function createTestCertificateAuthority(
  options: { dnsNames?: string[] } = {},
): TestCertificateAuthority {
  const caKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serverKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caName = `nebula-credential test CA ${randomBytes(4).toString('hex')}`;
  const caCertPem = issue({
    subject: caName,
    publicKey: caKeys.publicKey,
    issuer: caName,
    issuerKey: caKeys.privateKey,
    issuerPublicKey: caKeys.publicKey,
    ca: true,
  });
  const serverCertPem = issue({
    subject: 'localhost',
    publicKey: serverKeys.publicKey,
    issuer: caName,
    issuerKey: caKeys.privateKey,
    issuerPublicKey: caKeys.publicKey,
    ca: false,
    dnsNames: ['localhost', ...(options.dnsNames ?? [])],
    ipAddresses: ['127.0.0.1', '::1'],
  });
  // Self-check: a malformed encoding would otherwise surface as an obscure TLS failure in some client.
  const caCert = new X509Certificate(caCertPem);
  if (!new X509Certificate(serverCertPem).verify(caCert.publicKey)) {
    throw new Error('generated server certificate does not verify against its CA');
  }
  const dir = mkdtempSync(join(tmpdir(), 'nebula-ca-'));
  const caCertPath = join(dir, 'ca.crt');
  writeFileSync(caCertPath, caCertPem, { mode: 0o600 });
  return {
    caCertPem,
    caCertPath,
    serverCertPem,
    serverKeyPem: serverKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    issueClientCertificate: (commonName, organizations = []) => {
      const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const certPem = issue({
        subject: commonName,
        organizations,
        publicKey: keys.publicKey,
        issuer: caName,
        issuerKey: caKeys.privateKey,
        issuerPublicKey: caKeys.publicKey,
        ca: false,
        client: true,
      });
      return { certPem, keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
