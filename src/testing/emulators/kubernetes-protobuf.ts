// kubectl sends built-in objects as protobuf (`application/vnd.kubernetes.protobuf`): the "k8s\0" magic,
// then a runtime.Unknown wrapping the object. This decodes what Secrets need (Secret and DeleteOptions)
// into the JSON shape the rest of the emulator handles; responses stay JSON, which clients accept.

type Field = { no: number; wire: number; value: bigint | Buffer };

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const no = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      if (i + len > buf.length) throw new Error('truncated field');
      out.push({ no, wire, value: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const str = (f: Field) => (f.value as Buffer).toString('utf8');

function map(entries: Field[], asBase64: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    let key = '';
    let value: Buffer = Buffer.alloc(0);
    for (const f of fields(e.value as Buffer)) {
      if (f.no === 1) key = str(f);
      if (f.no === 2) value = f.value as Buffer;
    }
    out[key] = asBase64 ? value.toString('base64') : value.toString('utf8');
  }
  return out;
}

function objectMeta(buf: Buffer): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  const all = fields(buf);
  const names: Record<number, string> = {
    1: 'name',
    2: 'generateName',
    3: 'namespace',
    5: 'uid',
    6: 'resourceVersion',
  };
  for (const f of all) if (names[f.no] && f.wire === 2 && str(f) !== '') meta[names[f.no]!] = str(f);
  const labels = all.filter((f) => f.no === 11);
  const annotations = all.filter((f) => f.no === 12);
  if (labels.length) meta['labels'] = map(labels, false);
  if (annotations.length) meta['annotations'] = map(annotations, false);
  return meta;
}

/** True when the body starts with the Kubernetes protobuf magic. */
export function isKubeProtobuf(body: Buffer): boolean {
  return body.length >= 4 && body.subarray(0, 4).equals(Buffer.from('k8s\0', 'binary'));
}

/** Decodes a protobuf Secret or DeleteOptions into JSON; throws on anything else or malformed input. */
export function decodeKubeProtobuf(body: Buffer): Record<string, unknown> {
  const unknown = fields(body.subarray(4));
  let kind = '';
  let apiVersion = '';
  let raw: Buffer = Buffer.alloc(0);
  for (const f of unknown) {
    if (f.no === 1) {
      for (const t of fields(f.value as Buffer)) {
        if (t.no === 1) apiVersion = str(t);
        if (t.no === 2) kind = str(t);
      }
    }
    if (f.no === 2) raw = f.value as Buffer;
  }
  const parts = fields(raw);
  if (kind === 'Secret') {
    const secret: Record<string, unknown> = { apiVersion, kind };
    for (const f of parts) {
      if (f.no === 1) secret['metadata'] = objectMeta(f.value as Buffer);
      if (f.no === 3) secret['type'] = str(f);
      if (f.no === 5) secret['immutable'] = f.value !== 0n;
    }
    const data = parts.filter((f) => f.no === 2);
    const stringData = parts.filter((f) => f.no === 4);
    if (data.length) secret['data'] = map(data, true);
    if (stringData.length) secret['stringData'] = map(stringData, false);
    return secret;
  }
  if (kind === 'DeleteOptions') {
    const options: Record<string, unknown> = { apiVersion, kind };
    for (const f of parts) {
      if (f.no === 2) {
        const pre: Record<string, string> = {};
        for (const p of fields(f.value as Buffer)) {
          if (p.no === 1) pre['uid'] = str(p);
          if (p.no === 2) pre['resourceVersion'] = str(p);
        }
        options['preconditions'] = pre;
      }
      if (f.no === 4) options['propagationPolicy'] = str(f);
    }
    return options;
  }
  throw new Error(`unsupported protobuf kind ${kind || '(none)'}`);
}
