import type { ServerResponse } from 'node:http';
import { type RecordedRequest, sendJson } from '../emulator-kit/server.js';
import type { ApiRequest } from './gcp-api.js';
import type { GcpRpc } from './gcp-iam.js';
import { GcpError, restErrorBody } from './gcp-status.js';
import { decodePayload, decodeSecret, REST_DECODING } from './gcp-wire.js';

// The REST API v1 (the HTTP bindings in service.proto's google.api.http options): routes a request to its
// RPC and decodes path, query and JSON body into the request the state runs.

/** A REST request bound to an RPC. */
export interface RestCall {
  rpc: GcpRpc;
  /** `$alt=json;enum-encoding=int` (google-gax's REST transport asks for it): enums as numbers. */
  numericEnums: boolean;
  /** Decodes query and body; throws INVALID_ARGUMENT on malformed input. */
  decode(): ApiRequest;
}

// Standard query parameters every Google API accepts besides the request's own fields.
const SYSTEM_PARAMETERS = new Set([
  'alt',
  'prettyPrint',
  'fields',
  'key',
  'access_token',
  'quotaUser',
  'callback',
  'upload_protocol',
  'uploadType',
]);

const ROUTE =
  /^\/v1\/(projects\/[^/:]+)\/secrets(?:\/([^/:]+)(?::(addVersion)|(\/versions)(?:\/([^/:]+)(?::(access|enable|disable|destroy))?)?)?)?$/;

const VERSION_VERBS: Record<string, GcpRpc> = {
  access: 'AccessSecretVersion',
  enable: 'EnableSecretVersion',
  disable: 'DisableSecretVersion',
  destroy: 'DestroySecretVersion',
};

function body(request: RecordedRequest): Record<string, unknown> {
  const text = request.body.toString('utf8').trim();
  if (text === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new GcpError(
    'INVALID_ARGUMENT',
    'Invalid JSON payload received. Expected an object at the top level.',
  );
}

/** Query parameters of the request's fields, checked against those the RPC has (snake_case accepted). */
function queryOf(request: RecordedRequest, fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [raw, value] of request.query) {
    const key = raw.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    if (raw.startsWith('$') || SYSTEM_PARAMETERS.has(raw)) continue;
    if (!fields.includes(key)) {
      throw new GcpError(
        'INVALID_ARGUMENT',
        `Invalid JSON payload received. Unknown name "${raw.slice(0, 100)}": Cannot bind query parameter. Field '${raw.slice(0, 100)}' could not be found in request message.`,
      );
    }
    out[key] = value;
  }
  return out;
}

function int32(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d{1,10}$/.test(value)) {
    throw new GcpError(
      'INVALID_ARGUMENT',
      `Invalid value at '${field}' (TYPE_INT32), "${value.slice(0, 40)}"`,
    );
  }
  return Number(value);
}

function onlyFields(value: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    const name = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!allowed.includes(name)) {
      throw new GcpError(
        'INVALID_ARGUMENT',
        `Invalid JSON payload received. Unknown name "${key.slice(0, 100)}" at '${where}': Cannot find field.`,
      );
    }
  }
}

/** The RPC a REST request calls, or undefined when the path and method bind to none. */
export function restCallOf(request: RecordedRequest): RestCall | undefined {
  let path: string;
  try {
    path = decodeURIComponent(request.path);
  } catch {
    return undefined;
  }
  const m = ROUTE.exec(path);
  if (!m) return undefined;
  const [, project, secret, addVersion, versions, version, verb] = m as unknown as [
    string,
    string,
    string?,
    string?,
    string?,
    string?,
    string?,
  ];
  const alt = `${request.query.get('$alt') ?? ''};${request.query.get('alt') ?? ''}`;
  const call = (rpc: GcpRpc, decode: () => ApiRequest): RestCall => ({
    rpc,
    numericEnums: alt.includes('enum-encoding=int'),
    decode,
  });
  const method = request.method;
  const secretName = `${project}/secrets/${secret}`;
  const versionName = `${secretName}/versions/${version}`;
  const listOptions = (q: Record<string, string>) => ({
    pageSize: int32(q['pageSize'], 'page_size'),
    pageToken: q['pageToken'],
    filter: q['filter'],
  });
  const etagBody = (rpc: GcpRpc) => () => {
    queryOf(request, []);
    const b = body(request);
    onlyFields(b, ['name', 'etag'], '');
    return {
      rpc,
      name: versionName,
      etag: typeof b['etag'] === 'string' ? b['etag'] : undefined,
    } as ApiRequest;
  };

  if (secret === undefined) {
    if (method === 'GET') {
      return call('ListSecrets', () => ({
        rpc: 'ListSecrets',
        parent: project,
        options: listOptions(queryOf(request, ['pageSize', 'pageToken', 'filter'])),
      }));
    }
    if (method === 'POST') {
      return call('CreateSecret', () => {
        const q = queryOf(request, ['secretId']);
        return {
          rpc: 'CreateSecret',
          parent: project,
          secretId: q['secretId'] ?? '',
          secret: decodeSecret(body(request), REST_DECODING),
        };
      });
    }
    return undefined;
  }
  if (addVersion) {
    if (method !== 'POST') return undefined;
    return call('AddSecretVersion', () => {
      queryOf(request, []);
      const b = body(request);
      onlyFields(b, ['parent', 'payload'], '');
      const payload = decodePayload(b['payload'], REST_DECODING);
      return { rpc: 'AddSecretVersion', parent: secretName, ...payload };
    });
  }
  if (versions && version === undefined) {
    if (method !== 'GET') return undefined;
    return call('ListSecretVersions', () => ({
      rpc: 'ListSecretVersions',
      parent: secretName,
      options: listOptions(queryOf(request, ['pageSize', 'pageToken', 'filter'])),
    }));
  }
  if (version !== undefined) {
    if (verb === undefined) {
      if (method !== 'GET') return undefined;
      return call('GetSecretVersion', () => {
        queryOf(request, []);
        return { rpc: 'GetSecretVersion', name: versionName };
      });
    }
    const rpc = VERSION_VERBS[verb]!;
    if (rpc === 'AccessSecretVersion') {
      if (method !== 'GET') return undefined;
      return call(rpc, () => {
        queryOf(request, []);
        return { rpc: 'AccessSecretVersion', name: versionName };
      });
    }
    if (method !== 'POST') return undefined;
    return call(rpc, etagBody(rpc));
  }
  if (method === 'GET') {
    return call('GetSecret', () => {
      queryOf(request, []);
      return { rpc: 'GetSecret', name: secretName };
    });
  }
  if (method === 'PATCH') {
    return call('UpdateSecret', () => {
      const q = queryOf(request, ['updateMask']);
      const mask = (q['updateMask'] ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      return {
        rpc: 'UpdateSecret',
        name: secretName,
        secret: decodeSecret(body(request), REST_DECODING),
        updateMask: mask,
      };
    });
  }
  if (method === 'DELETE') {
    return call('DeleteSecret', () => {
      const q = queryOf(request, ['etag']);
      return { rpc: 'DeleteSecret', name: secretName, etag: q['etag'] };
    });
  }
  return undefined;
}

const JSON_TYPE = 'application/json; charset=UTF-8';

/** Writes a REST response body. */
export function sendRestJson(
  res: ServerResponse,
  status: number,
  message: unknown,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, message, { 'content-type': JSON_TYPE, ...headers });
}

/** Writes Google's JSON error body for an error. */
export function sendRestError(res: ServerResponse, error: GcpError): void {
  sendRestJson(res, error.httpStatus, restErrorBody(error), { ...error.headers });
}

/** Google's front end answers a URL that binds to no method with an HTML page, not JSON. */
export function sendNotFoundPage(res: ServerResponse, path: string): void {
  const safe = path.slice(0, 200).replace(/[<>&"]/g, '');
  const text = `<!DOCTYPE html>\n<html lang=en>\n<meta charset=utf-8>\n<title>Error 404 (Not Found)!!1</title>\n<p><b>404.</b> <ins>That’s an error.</ins>\n<p>The requested URL <code>${safe}</code> was not found on this server. <ins>That’s all we know.</ins>\n`;
  res.writeHead(404, {
    'content-type': 'text/html; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
