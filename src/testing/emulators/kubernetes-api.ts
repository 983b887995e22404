// The API machinery the Kubernetes emulator shares between its routes: Status objects, the validation rules
// of the API server (apimachinery/pkg/util/validation), label and field selectors, and the three patch types.

/**
 * A Kubernetes `Status` object, as the API server returns it for errors and for DELETE.
 *
 * @example
 * ```ts
 * const status: KubeStatus = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
 *   message: 'secrets "x" not found', reason: 'NotFound', details: { name: 'x', kind: 'secrets' }, code: 404 };
 * ```
 */
export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: { reason: string; message: string; field: string }[];
    retryAfterSeconds?: number;
  };
  code: number;
}

/** An error a route throws; the server turns it into a Status response. */
export class KubeApiError extends Error {
  readonly status: KubeStatus;
  readonly headers: Record<string, string>;
  constructor(status: Omit<KubeStatus, 'kind' | 'apiVersion' | 'metadata' | 'status'>, headers = {}) {
    super(status.message);
    this.status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', ...status };
    this.headers = headers;
  }
}

/** The API server's wording for each failure it reports (k8s.io/apimachinery/pkg/api/errors). */
export const kubeErrors = {
  notFound: (resource: string, name: string) =>
    new KubeApiError({
      message: `${resource} "${name}" not found`,
      reason: 'NotFound',
      details: { name, kind: resource },
      code: 404,
    }),
  alreadyExists: (resource: string, name: string) =>
    new KubeApiError({
      message: `${resource} "${name}" already exists`,
      reason: 'AlreadyExists',
      details: { name, kind: resource },
      code: 409,
    }),
  conflict: (resource: string, name: string, why: string) =>
    new KubeApiError({
      message: `Operation cannot be fulfilled on ${resource} "${name}": ${why}`,
      reason: 'Conflict',
      details: { name, kind: resource },
      code: 409,
    }),
  invalid: (kind: string, name: string, causes: { field: string; message: string; reason?: string }[]) =>
    new KubeApiError({
      message: `${kind} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
      reason: 'Invalid',
      details: {
        name,
        kind,
        causes: causes.map((c) => ({
          reason: c.reason ?? 'FieldValueInvalid',
          message: c.message,
          field: c.field,
        })),
      },
      code: 422,
    }),
  badRequest: (message: string) => new KubeApiError({ message, reason: 'BadRequest', code: 400 }),
  unauthorized: () => new KubeApiError({ message: 'Unauthorized', reason: 'Unauthorized', code: 401 }),
  forbidden: (user: string, verb: string, resource: string, namespace: string | undefined, name?: string) =>
    new KubeApiError({
      message:
        `${resource}${name ? ` "${name}"` : ''} is forbidden: User "${user}" cannot ${verb} resource "${resource}" ` +
        `in API group ""${namespace === undefined ? ' at the cluster scope' : ` in the namespace "${namespace}"`}`,
      reason: 'Forbidden',
      details: { ...(name ? { name } : {}), kind: resource },
      code: 403,
    }),
  forbiddenPath: (user: string, path: string) =>
    new KubeApiError({
      message: `forbidden: User "${user}" cannot get path "${path}"`,
      reason: 'Forbidden',
      details: {},
      code: 403,
    }),
  pathNotFound: () =>
    new KubeApiError({
      message: 'the server could not find the requested resource',
      reason: 'NotFound',
      code: 404,
    }),
  methodNotAllowed: (method: string) =>
    new KubeApiError({
      message: `the server does not allow this method on the requested resource (${method})`,
      reason: 'MethodNotAllowed',
      code: 405,
    }),
  unsupportedMediaType: (type: string) =>
    new KubeApiError({
      message: `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${type})`,
      reason: 'UnsupportedMediaType',
      code: 415,
    }),
  tooLarge: () =>
    new KubeApiError({
      message: 'Request entity too large: limit is 3145728',
      reason: 'RequestEntityTooLarge',
      code: 413,
    }),
  expired: () =>
    new KubeApiError({
      message:
        'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
      reason: 'Expired',
      code: 410,
    }),
};

/** A Status for an injected failure (429 with Retry-After, 500, 503, 504), worded like the API server. */
export function statusForCode(code: number, retryAfterSeconds?: number): KubeStatus {
  const reasons: Record<number, [string, string]> = {
    429: ['TooManyRequests', 'Too many requests, please try again later.'],
    500: ['InternalError', 'Internal error occurred: emulated failure'],
    503: ['ServiceUnavailable', 'The server is currently unable to handle the request'],
    504: [
      'Timeout',
      'The server was unable to return a response in the time allotted, but may still be processing the request',
    ],
    401: ['Unauthorized', 'Unauthorized'],
  };
  const [reason, message] = reasons[code] ?? ['InternalError', `emulated status ${code}`];
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(retryAfterSeconds === undefined ? {} : { details: { retryAfterSeconds } }),
    code,
  };
}

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_LABEL}(\\.${DNS1123_LABEL})*$`);
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;

/** Max total bytes of a Secret's decoded data (core/v1 validation). */
export const MAX_SECRET_SIZE = 1024 * 1024;
/** Max total bytes of all annotation keys and values. */
export const MAX_ANNOTATIONS_SIZE = 256 * 1024;

/** DNS-1123 subdomain check, returning the API server's message or undefined. */
export function checkDnsSubdomain(value: string): string | undefined {
  if (value.length > 253) return 'must be no more than 253 characters';
  if (!DNS1123_SUBDOMAIN.test(value)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  }
  return undefined;
}

/** Qualified-name check for label and annotation keys (optional DNS prefix, `/`, a 63-character name). */
export function checkQualifiedName(key: string): string | undefined {
  const parts = key.split('/');
  let name = key;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) return 'prefix part must be non-empty';
    const bad = checkDnsSubdomain(prefix);
    if (bad) return `prefix part ${bad}`;
  } else if (parts.length > 2) {
    return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/'";
  }
  if (name.length === 0) return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!QUALIFIED_NAME.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
  }
  return undefined;
}

/** Label value check. */
export function checkLabelValue(value: string): string | undefined {
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!LABEL_VALUE.test(value)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
  }
  return undefined;
}

/**
 * A stored Secret, as JSON (what `KubernetesEmulator.getSecret` returns).
 *
 * @example
 * ```ts
 * const secret = emulator.getSecret('apps', 'nebula-db--password');
 * console.log(secret?.metadata.labels?.['app.kubernetes.io/managed-by']);
 * ```
 */
export interface SecretObject {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  type: string;
  data?: Record<string, string>;
  immutable?: boolean;
}

/** The field errors of a Secret body, as core/v1 validation reports them. */
export function validateSecret(
  body: Record<string, unknown>,
  previous: SecretObject | undefined,
): { field: string; message: string; reason?: string }[] {
  const causes: { field: string; message: string; reason?: string }[] = [];
  const meta = (body['metadata'] ?? {}) as Record<string, unknown>;
  const name = meta['name'];
  if (typeof name !== 'string' || name === '') {
    causes.push({
      field: 'metadata.name',
      message: 'Required value: name or generateName is required',
      reason: 'FieldValueRequired',
    });
  } else {
    const bad = checkDnsSubdomain(name);
    if (bad) causes.push({ field: 'metadata.name', message: `Invalid value: "${name}": ${bad}` });
  }
  for (const field of ['labels', 'annotations'] as const) {
    const map = meta[field];
    if (map === undefined || map === null) continue;
    if (typeof map !== 'object' || Array.isArray(map)) {
      causes.push({ field: `metadata.${field}`, message: 'Invalid value: must be a map of strings' });
      continue;
    }
    let total = 0;
    for (const [k, v] of Object.entries(map as Record<string, unknown>)) {
      const badKey = checkQualifiedName(k);
      if (badKey) causes.push({ field: `metadata.${field}`, message: `Invalid value: "${k}": ${badKey}` });
      if (typeof v !== 'string') {
        causes.push({ field: `metadata.${field}`, message: `Invalid value: "${k}": value must be a string` });
        continue;
      }
      total += Buffer.byteLength(k) + Buffer.byteLength(v);
      if (field === 'labels') {
        const badValue = checkLabelValue(v);
        if (badValue)
          causes.push({ field: `metadata.labels`, message: `Invalid value: "${v}": ${badValue}` });
      }
    }
    if (field === 'annotations' && total > MAX_ANNOTATIONS_SIZE) {
      causes.push({
        field: 'metadata.annotations',
        message: `Too long: may not be more than ${MAX_ANNOTATIONS_SIZE} bytes`,
        reason: 'FieldValueTooLong',
      });
    }
  }
  const data = body['data'];
  if (data !== undefined && data !== null) {
    let total = 0;
    for (const [k, v] of Object.entries(data as Record<string, string>)) {
      if (k.length > 253 || !DATA_KEY.test(k)) {
        causes.push({
          field: `data[${k}]`,
          message: `Invalid value: "${k}": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
        });
      }
      total += Buffer.from(v, 'base64').length;
    }
    if (total > MAX_SECRET_SIZE) {
      causes.push({
        field: 'data',
        message: `Too long: may not be more than ${MAX_SECRET_SIZE} bytes`,
        reason: 'FieldValueTooLong',
      });
    }
  }
  if (previous) {
    if (body['type'] !== previous.type) {
      causes.push({ field: 'type', message: `Invalid value: "${String(body['type'])}": field is immutable` });
    }
    if (previous.immutable) {
      if (JSON.stringify(body['data'] ?? {}) !== JSON.stringify(previous.data ?? {})) {
        causes.push({
          field: 'data',
          message: 'Forbidden: field is immutable when `immutable` is set',
          reason: 'FieldValueForbidden',
        });
      }
      if (body['immutable'] !== true) {
        causes.push({
          field: 'immutable',
          message: 'Forbidden: field is immutable when `immutable` is set',
          reason: 'FieldValueForbidden',
        });
      }
    }
  }
  return causes;
}

/** Checks that every data value is base64, as the JSON decoder of the API server does (400 otherwise). */
export function checkBase64Data(data: unknown): void {
  if (data === undefined || data === null) return;
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw kubeErrors.badRequest('Secret in version "v1" cannot be handled as a Secret: data must be a map');
  }
  for (const v of Object.values(data as Record<string, unknown>)) {
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) {
      throw kubeErrors.badRequest(
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data in a data value',
      );
    }
  }
}

type Requirement =
  | { key: string; op: 'exists' | '!' }
  | { key: string; op: '=' | '!='; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] };

/** Parses a label selector (`a=b,c!=d,e in (x,y),f notin (z),g,!h`); throws 400 like the API server. */
export function parseLabelSelector(text: string): (labels: Record<string, string>) => boolean {
  const requirements: Requirement[] = [];
  let rest = text.trim();
  const fail = (why: string): never => {
    throw kubeErrors.badRequest(`unable to parse requirement: ${why}`);
  };
  while (rest.length > 0) {
    const set = /^(!?)\s*([^\s,=!()]+)\s*(in|notin)\s*\(([^)]*)\)\s*/.exec(rest);
    const eq = /^([^\s,=!()]+)\s*(==|=|!=)\s*([^\s,()]*)\s*/.exec(rest);
    const ex = /^(!?)\s*([^\s,=!()]+)\s*/.exec(rest);
    if (set && set[1] === '') {
      const values = set[4]!.split(',').map((v) => v.trim());
      for (const v of values) if (checkLabelValue(v)) fail(`values[0]: Invalid value: "${v}"`);
      requirements.push({ key: set[2]!, op: set[3] as 'in' | 'notin', values });
      rest = rest.slice(set[0].length);
    } else if (eq) {
      if (checkLabelValue(eq[3]!)) fail(`values[0][${eq[1]}]: Invalid value: "${eq[3]}"`);
      requirements.push({ key: eq[1]!, op: eq[2] === '!=' ? '!=' : '=', value: eq[3]! });
      rest = rest.slice(eq[0].length);
    } else if (ex) {
      requirements.push({ key: ex[2]!, op: ex[1] === '!' ? '!' : 'exists' });
      rest = rest.slice(ex[0].length);
    } else {
      fail(`found '${rest[0]}', expected: identifier`);
    }
    for (const r of requirements.slice(-1)) {
      const bad = checkQualifiedName(r.key);
      if (bad) fail(`key: Invalid value: "${r.key}": ${bad}`);
    }
    if (rest.startsWith(',')) rest = rest.slice(1).trim();
    else if (rest.length > 0) fail(`found '${rest[0]}', expected: ',' or 'end of string'`);
  }
  return (labels) =>
    requirements.every((r) => {
      const has = Object.hasOwn(labels, r.key);
      const v = labels[r.key];
      switch (r.op) {
        case 'exists':
          return has;
        case '!':
          return !has;
        case '=':
          return has && v === r.value;
        case '!=':
          return !has || v !== r.value;
        case 'in':
          return has && r.values.includes(v!);
        default:
          return !has || !r.values.includes(v!);
      }
    });
}

/** Parses a field selector over `metadata.name`, `metadata.namespace` and `type`. */
export function parseFieldSelector(text: string): (secret: SecretObject) => boolean {
  const checks: ((s: SecretObject) => boolean)[] = [];
  for (const part of text.split(',').filter((p) => p.trim() !== '')) {
    const m = /^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part);
    if (!m) throw kubeErrors.badRequest(`invalid field selector: '${part}'`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    const get: Record<string, (s: SecretObject) => string> = {
      'metadata.name': (s) => s.metadata.name,
      'metadata.namespace': (s) => s.metadata.namespace,
      type: (s) => s.type,
    };
    const read = get[field];
    if (!read) throw kubeErrors.badRequest(`field label not supported: ${field}`);
    checks.push((s) => (op === '!=' ? read(s) !== value : read(s) === value));
  }
  return (s) => checks.every((c) => c(s));
}

/** RFC 7386 JSON merge patch (also used for strategic merge patch: a Secret has no merge-keyed lists). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (k === '$patch' || k.startsWith('$setElementOrder') || k.startsWith('$retainKeys')) continue;
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch; a failed `test` or a bad path is a 422/500 like the API server's. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw kubeErrors.badRequest('json patch must be an array of operations');
  let doc = structuredClone(target);
  const parse = (path: string) =>
    path === ''
      ? []
      : path
          .split('/')
          .slice(1)
          .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  const walk = (tokens: string[]) => {
    let parent: unknown = doc;
    for (const t of tokens.slice(0, -1)) {
      parent = (parent as Record<string, unknown> | undefined)?.[t];
      if (typeof parent !== 'object' || parent === null) {
        throw new KubeApiError({
          message: `jsonpatch: path not found: ${tokens.join('/')}`,
          reason: 'Invalid',
          code: 422,
        });
      }
    }
    return { parent: parent as Record<string, unknown> | unknown[], key: tokens[tokens.length - 1]! };
  };
  const get = (path: string) => {
    const tokens = parse(path);
    let v: unknown = doc;
    for (const t of tokens) v = (v as Record<string, unknown> | undefined)?.[t];
    return v;
  };
  const remove = (path: string) => {
    const { parent, key } = walk(parse(path));
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else {
      if (!Object.hasOwn(parent, key)) {
        throw new KubeApiError({
          message: `jsonpatch remove operation does not apply: doc is missing key: ${path}`,
          reason: 'Invalid',
          code: 422,
        });
      }
      delete parent[key];
    }
  };
  const add = (path: string, value: unknown) => {
    const tokens = parse(path);
    if (tokens.length === 0) {
      doc = value;
      return;
    }
    const { parent, key } = walk(tokens);
    if (Array.isArray(parent)) parent.splice(key === '-' ? parent.length : Number(key), 0, value);
    else parent[key] = value;
  };
  for (const raw of ops) {
    const op = raw as { op: string; path: string; value?: unknown; from?: string };
    switch (op.op) {
      case 'add':
        add(op.path, structuredClone(op.value));
        break;
      case 'remove':
        remove(op.path);
        break;
      case 'replace':
        remove(op.path);
        add(op.path, structuredClone(op.value));
        break;
      case 'move': {
        const v = get(op.from ?? '');
        remove(op.from ?? '');
        add(op.path, v);
        break;
      }
      case 'copy':
        add(op.path, structuredClone(get(op.from ?? '')));
        break;
      case 'test':
        if (JSON.stringify(get(op.path)) !== JSON.stringify(op.value)) {
          throw new KubeApiError({
            message: `the server rejected our request due to an error in our request: testing value ${op.path} failed`,
            reason: 'Invalid',
            code: 422,
          });
        }
        break;
      default:
        throw kubeErrors.badRequest(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}
