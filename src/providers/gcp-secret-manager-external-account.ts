// Workload identity federation (external_account files) for the GCP provider: google-auth-library does the
// STS exchange and impersonation, on the provider's bounded token transport; the subject token sources it
// would read or run around that bound (executable, x509) are the library's own suppliers.

import { checkBoundedFile, FILE_SIZE_LIMITS } from '../core/files.js';
import { requireBesidePeer } from '../core/peer.js';
import { executableSubjectTokenSupplier } from './gcp-secret-manager-executable.js';
import { GCP_SECRET_MANAGER } from './gcp-secret-manager-options.js';
import type { GcpTokenHttp } from './gcp-secret-manager-token-http.js';
import { x509SubjectTokenSupplier } from './gcp-secret-manager-x509.js';

const PROVIDER = GCP_SECRET_MANAGER;

/**
 * Workload identity federation files go through google-auth-library (the SDK's own copy), every request of
 * it through the provider's bounded token transport: the client's transporter (impersonation, url and AWS
 * subject tokens) from `transporterOptions`, and the STS exchange's own transporter, which the client makes
 * without them, given the same defaults (and, since its exchange is always retried, no retry of an answer cut
 * at the bound). An executable source is run by the library (a subject token
 * supplier in its place). So is an x509 source (credential_source.certificate): the library reads its
 * files bounded, and the client certificate becomes the `agent` of both transporters' defaults (gaxios
 * hands a defaults `agent` to the fetch it is given, which the token transport then uses, through the
 * bounded tunnel when a proxy applies), as google-auth-library would give both its own mTLS agent.
 */
export function externalAccountLoader(connectMs: number) {
  return async (json: Record<string, unknown>, http: GcpTokenHttp) => {
    const gax = requireBesidePeer<{
      GoogleAuth: new (o: unknown) => { getClient(): Promise<unknown> };
    }>('@google-cloud/secret-manager', 'google-gax');
    const source = json['credential_source'] as
      | { file?: unknown; executable?: unknown; certificate?: unknown }
      | undefined;
    type Transporter = { defaults?: Record<string, unknown> };
    let client:
      | {
          getAccessToken(): Promise<{ token?: string | null }>;
          credentials?: { expiry_date?: number | null };
          transporter?: Transporter;
          stsCredential?: { transporter?: Transporter };
        }
      | undefined;
    const supplier =
      source?.executable !== undefined
        ? executableSubjectTokenSupplier(json, { connectMs })
        : source?.certificate !== undefined
          ? x509SubjectTokenSupplier(json, {
              connectMs,
              // Read before each exchange: a rotated certificate is presented from the next token on.
              onCertificate: (pair) => {
                const agent = http.clientCertificateAgent(pair);
                for (const t of [client?.transporter, client?.stsCredential?.transporter]) {
                  if (t) t.defaults = { ...t.defaults, agent };
                }
              },
            })
          : undefined;
    const config = supplier
      ? { ...json, credential_source: undefined, subject_token_supplier: supplier }
      : json;
    const auth = new gax.GoogleAuth({
      credentials: config,
      scopes: ['https://www.googleapis.com/auth/cloud-platform'],
      clientOptions: { transporterOptions: http.gaxiosOptions },
    });
    const made = (await auth.getClient()) as NonNullable<typeof client>;
    client = made;
    const sts = made.stsCredential?.transporter;
    if (sts) sts.defaults = { ...sts.defaults, ...http.gaxiosOptions, ...http.gaxiosRetryGuard };
    const subjectFile = typeof source?.file === 'string' ? source.file : undefined;
    return async (signal: AbortSignal) => {
      if (supplier) supplier.signal = signal;
      // google-auth-library reads the subject token file whole (it refuses only non-files): the size bound first.
      if (subjectFile) {
        await checkBoundedFile(subjectFile, {
          maxBytes: FILE_SIZE_LIMITS.token,
          what: 'the workload identity subject token file',
          option: 'credential_source.file',
          provider: PROVIDER,
          operation: 'connect',
          skipUnopenable: true,
        });
      }
      const { token } = await made.getAccessToken();
      if (!token) throw new Error('the workload identity federation exchange returned no token');
      return { token, expiresAt: made.credentials?.expiry_date ?? Date.now() + 3600_000 };
    };
  };
}
