// Google's error model, rendered for both transports from one value: a google.rpc.Status (code, message,
// typed details). gRPC carries the code and message in the trailers and the whole Status, protobuf-encoded,
// in `grpc-status-details-bin`; REST carries `{"error": {"code": <HTTP>, "message", "status", "details"}}`
// with each detail as JSON plus its "@type". The HTTP mapping is google.rpc.Code's documented one.

/** The gRPC status codes (google.rpc.Code) and the HTTP status Google's REST front end maps each to.
 *
 * @example
 * ```ts
 * console.log(GRPC_CODES.NOT_FOUND); // { code: 5, http: 404 }
 * ```
 */
export const GRPC_CODES = {
  OK: { code: 0, http: 200 },
  CANCELLED: { code: 1, http: 499 },
  UNKNOWN: { code: 2, http: 500 },
  INVALID_ARGUMENT: { code: 3, http: 400 },
  DEADLINE_EXCEEDED: { code: 4, http: 504 },
  NOT_FOUND: { code: 5, http: 404 },
  ALREADY_EXISTS: { code: 6, http: 409 },
  PERMISSION_DENIED: { code: 7, http: 403 },
  RESOURCE_EXHAUSTED: { code: 8, http: 429 },
  FAILED_PRECONDITION: { code: 9, http: 400 },
  ABORTED: { code: 10, http: 409 },
  OUT_OF_RANGE: { code: 11, http: 400 },
  UNIMPLEMENTED: { code: 12, http: 501 },
  INTERNAL: { code: 13, http: 500 },
  UNAVAILABLE: { code: 14, http: 503 },
  DATA_LOSS: { code: 15, http: 500 },
  UNAUTHENTICATED: { code: 16, http: 401 },
} as const;

/** A google.rpc.Code name, e.g. `'NOT_FOUND'`.
 *
 * @example
 * ```ts
 * const status: GrpcStatusName = 'FAILED_PRECONDITION';
 * ```
 */
export type GrpcStatusName = keyof typeof GRPC_CODES;

/** A typed error detail (the google.rpc error_details messages the emulator sends).
 *
 * @example
 * ```ts
 * const detail: GoogleErrorDetail = { type: 'ErrorInfo', reason: 'IAM_PERMISSION_DENIED', domain: 'iam.googleapis.com',
 *   metadata: { permission: 'secretmanager.versions.access' } };
 * ```
 */
export type GoogleErrorDetail =
  | { type: 'ErrorInfo'; reason: string; domain: string; metadata: Record<string, string> }
  | { type: 'RetryInfo'; retryDelaySeconds: number }
  | { type: 'Help'; links: { description: string; url: string }[] }
  | { type: 'BadRequest'; fieldViolations: { field: string; description: string }[] }
  | { type: 'LocalizedMessage'; locale: string; message: string };

/**
 * An error the emulated service returns: a gRPC status name, a message and optional details. Both transports
 * render it (gRPC trailers with `grpc-status-details-bin`, or Google's JSON error body).
 *
 * @example
 * ```ts
 * throw new GcpError('NOT_FOUND', 'Secret [projects/1/secrets/x] not found.');
 * ```
 */
export class GcpError extends Error {
  /** The google.rpc.Code name, e.g. `NOT_FOUND`. */
  readonly status: GrpcStatusName;
  /** The typed details (google.rpc.Status.details) both transports carry. */
  readonly details: readonly GoogleErrorDetail[];
  /** Extra HTTP response headers for REST (e.g. `retry-after`, `www-authenticate`). */
  readonly headers: Readonly<Record<string, string>>;

  /** An error with its status name, message, details and extra REST headers. */
  constructor(
    status: GrpcStatusName,
    message: string,
    details: readonly GoogleErrorDetail[] = [],
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = status;
    this.details = details;
    this.headers = headers;
  }

  /** The numeric gRPC status code. */
  get code(): number {
    return GRPC_CODES[this.status].code;
  }

  /** The HTTP status Google's REST front end answers with. */
  get httpStatus(): number {
    return GRPC_CODES[this.status].http;
  }
}

/** The status name Google maps an HTTP status to (for faults given only as an HTTP status). */
export function statusForHttp(http: number): GrpcStatusName {
  const byHttp: Record<number, GrpcStatusName> = {
    400: 'INVALID_ARGUMENT',
    401: 'UNAUTHENTICATED',
    403: 'PERMISSION_DENIED',
    404: 'NOT_FOUND',
    409: 'ABORTED',
    429: 'RESOURCE_EXHAUSTED',
    499: 'CANCELLED',
    501: 'UNIMPLEMENTED',
    503: 'UNAVAILABLE',
    504: 'DEADLINE_EXCEEDED',
  };
  return byHttp[http] ?? (http >= 500 ? 'INTERNAL' : http >= 400 ? 'FAILED_PRECONDITION' : 'UNKNOWN');
}

const TYPE_PREFIX = 'type.googleapis.com/google.rpc.';

// ---- REST -----------------------------------------------------------------------------------------------

function detailJson(detail: GoogleErrorDetail): Record<string, unknown> {
  const type = `${TYPE_PREFIX}${detail.type}`;
  switch (detail.type) {
    case 'ErrorInfo':
      return { '@type': type, reason: detail.reason, domain: detail.domain, metadata: detail.metadata };
    case 'RetryInfo':
      return { '@type': type, retryDelay: `${detail.retryDelaySeconds}s` };
    case 'Help':
      return { '@type': type, links: detail.links };
    case 'BadRequest':
      return { '@type': type, fieldViolations: detail.fieldViolations };
    case 'LocalizedMessage':
      return { '@type': type, locale: detail.locale, message: detail.message };
  }
}

/** Google's REST error body: `{"error": {"code", "message", "status", "details"?}}` (no `details` when none). */
export function restErrorBody(error: GcpError): { error: Record<string, unknown> } {
  return {
    error: {
      code: error.httpStatus,
      message: error.message,
      status: error.status,
      ...(error.details.length ? { details: error.details.map(detailJson) } : {}),
    },
  };
}

// ---- gRPC: a minimal protobuf writer for google.rpc.Status and its details ------------------------------

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = BigInt.asUintN(64, BigInt(value));
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (v > 0n);
  return Buffer.from(bytes);
}

const tag = (field: number, wire: number) => varint((field << 3) | wire);
const varintField = (field: number, value: number) =>
  value === 0 ? Buffer.alloc(0) : Buffer.concat([tag(field, 0), varint(value)]);
const bytesField = (field: number, value: Buffer) =>
  Buffer.concat([tag(field, 2), varint(value.length), value]);
const stringField = (field: number, value: string) =>
  value === '' ? Buffer.alloc(0) : bytesField(field, Buffer.from(value, 'utf8'));

function detailProto(detail: GoogleErrorDetail): Buffer {
  switch (detail.type) {
    case 'ErrorInfo':
      return Buffer.concat([
        stringField(1, detail.reason),
        stringField(2, detail.domain),
        ...Object.entries(detail.metadata).map(([k, v]) =>
          bytesField(3, Buffer.concat([stringField(1, k), stringField(2, v)])),
        ),
      ]);
    case 'RetryInfo':
      return bytesField(1, varintField(1, detail.retryDelaySeconds));
    case 'Help':
      return Buffer.concat(
        detail.links.map((l) =>
          bytesField(1, Buffer.concat([stringField(1, l.description), stringField(2, l.url)])),
        ),
      );
    case 'BadRequest':
      return Buffer.concat(
        detail.fieldViolations.map((f) =>
          bytesField(1, Buffer.concat([stringField(1, f.field), stringField(2, f.description)])),
        ),
      );
    case 'LocalizedMessage':
      return Buffer.concat([stringField(1, detail.locale), stringField(2, detail.message)]);
  }
}

/** The protobuf encoding of the error's google.rpc.Status, the value of `grpc-status-details-bin`. */
export function grpcStatusDetails(error: GcpError): Buffer {
  return Buffer.concat([
    varintField(1, error.code),
    stringField(2, error.message),
    ...error.details.map((d) =>
      bytesField(
        3,
        Buffer.concat([stringField(1, `${TYPE_PREFIX}${d.type}`), bytesField(2, detailProto(d))]),
      ),
    ),
  ]);
}
