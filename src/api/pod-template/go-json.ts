// The bytes Go's encoding/json.Marshal writes for a k8s.io/api core/v1 PodTemplateSpec after decoding it
// from the Rollout's JSON: Argo Rollouts hashes exactly these (utils/hash.ComputePodTemplateHash).
//
// Decoding and encoding are done in one walk over the generated schema (pod-template-schema.ts):
// - fields come out in Go declaration order, inline structs flattened; keys the schema does not know are
//   dropped, as Go drops them (matching is case-sensitive, like the apimachinery decoder Argo's client uses);
// - absent and null decode to Go's zero value: nil pointers, slices and maps print null unless omitempty,
//   structs are never omitted (creationTimestamp: null, resources: {}), [] and {} survive without omitempty;
// - map keys are sorted by UTF-8 bytes; strings use Go's escaping (<, >, & and U+2028/U+2029 as \u, \b
//   and \f short forms as Go 1.22+ writes them, lone surrogates as U+FFFD);
// - resource.Quantity is re-rendered canonically (quantity.ts), IntOrString as a number or a string,
//   metav1.Time as RFC 3339 in UTC with whole seconds (the zero time as null).
// Values Go would refuse to decode (a malformed quantity or time, a string where a number belongs) make
// Argo reject the whole Rollout; here they degrade to the zero value or the raw string instead.
//
// Two flavours, because Argo's own bytes changed with its Kubernetes libraries: up to v1.8 (k8s.io/api
// 0.29) a zero metadata.creationTimestamp is written as null; from v1.9 (0.34, built with Go >= 1.24) the
// field is tagged omitzero (kubernetes PR 130989) and left out, which by itself changes the hash of every
// template (the spurious revisions after upgrading Argo to v1.9, argo-rollouts issue 4696).

import { parseQuantity, quantityString } from './quantity.ts';
import { POD_TEMPLATE_ROOT, POD_TEMPLATE_STRUCTS } from './schema.generated.ts';

/** Whose json.Marshal to reproduce: Argo Rollouts >= v1.9 (the default) or <= v1.8. */
export type PodTemplateJsonFlavor = 'argo-v1.9' | 'argo-v1.8';

/** Fields tagged omitzero in k8s.io/apimachinery 0.33+, keyed "Struct.field". */
const OMIT_ZERO_SINCE_V1_9 = new Set(['ObjectMeta.creationTimestamp']);

type Node =
  | { kind: 'string' | 'bool' | 'int' | 'quantity' | 'intstr' | 'time' | 'fieldsV1' }
  | { kind: 'pointer' | 'slice' | 'map'; elem: Node }
  | { kind: 'struct'; name: string; fields: StructField[] };

interface StructField {
  name: string;
  /** The JSON key with its colon, escaped once. */
  key: string;
  node: Node;
  omitEmpty: boolean;
  omitZeroV19: boolean;
}

const SCALARS = new Set(['string', 'bool', 'int', 'quantity', 'intstr', 'time', 'fieldsV1']);
const compiled = new Map<string, Node>();

/** Resolves a schema kind string ('*Probe', '[]Container', 'map[]quantity', ...) to a node, once. */
function compile(kind: string): Node {
  const known = compiled.get(kind);
  if (known) return known;
  let node: Node;
  if (kind.startsWith('*')) node = { kind: 'pointer', elem: compile(kind.slice(1)) };
  else if (kind.startsWith('[]')) node = { kind: 'slice', elem: compile(kind.slice(2)) };
  else if (kind.startsWith('map[]')) node = { kind: 'map', elem: compile(kind.slice(5)) };
  else if (SCALARS.has(kind)) node = { kind } as Node;
  else {
    const fields = POD_TEMPLATE_STRUCTS[kind];
    if (!fields) throw new Error(`pod template schema: unknown kind ${kind}`);
    const struct: Node = { kind: 'struct', name: kind, fields: [] };
    compiled.set(kind, struct); // before its fields, in case a type refers to itself
    for (const [name, fieldKind, omitEmpty] of fields) {
      const omitZeroV19 = OMIT_ZERO_SINCE_V1_9.has(`${kind}.${name}`);
      if (omitZeroV19 && fieldKind !== 'time')
        throw new Error(`omitzero is only handled for time fields: ${kind}.${name}`);
      const key = `${goJsonString(name)}:`;
      struct.fields.push({ name, key, node: compile(fieldKind), omitEmpty: omitEmpty === 1, omitZeroV19 });
    }
    return struct;
  }
  compiled.set(kind, node);
  return node;
}

const HEX = '0123456789abcdef';

// Anything goJsonString changes: controls, quote, backslash, HTML specials, U+2028/9, surrogates.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what Go escapes
const NEEDS_ESCAPE_RE = /[\u0000-\u001f"\\<>&\u2028\u2029\ud800-\udfff]/;

/** Go's encodeState.string with HTML escaping, as json.Marshal writes it. */
export function goJsonString(s: string): string {
  if (!NEEDS_ESCAPE_RE.test(s)) return `"${s}"`;
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c < 0x80) {
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c && c !== 0x3c && c !== 0x3e && c !== 0x26) continue;
      if (c === 0x22) esc = '\\"';
      else if (c === 0x5c) esc = '\\\\';
      else if (c === 0x0a) esc = '\\n';
      else if (c === 0x0d) esc = '\\r';
      else if (c === 0x09) esc = '\\t';
      else if (c === 0x08) esc = '\\b';
      else if (c === 0x0c) esc = '\\f';
      else esc = `\\u00${HEX[c >> 4]}${HEX[c & 0xf]}`;
    } else if (c === 0x2028 || c === 0x2029) {
      esc = c === 0x2028 ? '\\u2028' : '\\u2029';
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      // Go's decoder turns an unpaired surrogate escape into U+FFFD, which it then writes as is.
      esc = '\ufffd';
    } else {
      continue;
    }
    out += s.slice(start, i) + esc;
    start = i + 1;
  }
  return `${out + s.slice(start)}"`;
}

/** Orders strings by their UTF-8 bytes (= code points), as Go sorts map keys. */
function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function goInt(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? String(Math.trunc(v)) : '0';
}

// --- metav1.Time: time.Parse(time.RFC3339) then UTC().Format(time.RFC3339) ---

const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})([.,]\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Days since 1970-01-01 of a proleptic Gregorian date (valid far outside Date's comfortable range). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z: number): [number, number, number] {
  const zz = z + 719468;
  const era = Math.floor(zz / 146097);
  const doe = zz - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [era * 400 + yoe + (m <= 2 ? 1 : 0), m, d];
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const ZERO_TIME_SECONDS = daysFromCivil(1, 1, 1) * 86_400;

/** The JSON metav1.Time.MarshalJSON writes for an RFC 3339 string, or undefined if Go cannot parse it. */
export function goTimeJson(s: string): string | undefined {
  const m = RFC3339_RE.exec(s);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (monthDays === undefined || day < 1 || day > monthDays || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  let offsetSeconds = 0;
  const zone = m[8]!;
  if (zone !== 'Z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
    offsetSeconds = (zone[0] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const seconds =
    daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds;
  const fractionZero = !m[7] || /^[.,]0+$/.test(m[7]);
  if (seconds === ZERO_TIME_SECONDS && fractionZero) return 'null';
  const days = Math.floor(seconds / 86_400);
  const rest = seconds - days * 86_400;
  const [y, mo, d] = civilFromDays(days);
  const clock = `${pad(Math.floor(rest / 3600), 2)}:${pad(Math.floor((rest % 3600) / 60), 2)}:${pad(rest % 60, 2)}`;
  return `"${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${clock}Z"`;
}

/** Raw JSON re-serialised with Go's string escaping (FieldsV1 keeps its own key order). */
function rawJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return goJsonString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(rawJson).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.entries(v)
      .map(([k, x]) => `${goJsonString(k)}:${rawJson(x)}`)
      .join(',')}}`;
  }
  return 'null';
}

/** Go's isEmptyValue for omitempty, given the decoded value (structs are never empty). */
function isEmpty(node: Node, v: unknown): boolean {
  switch (node.kind) {
    case 'pointer':
      return v === undefined || v === null;
    case 'slice':
      return !Array.isArray(v) || v.length === 0;
    case 'map':
      return !isObject(v) || Object.keys(v).length === 0;
    case 'string':
      return typeof v !== 'string' || v === '';
    case 'bool':
      return v !== true;
    case 'int':
      return goInt(v) === '0';
    default:
      return false;
  }
}

/** Appends Go's encoding of `v` decoded into `node` (absent/null = the zero value). */
function encode(node: Node, v: unknown, out: string[], flavor: PodTemplateJsonFlavor): void {
  switch (node.kind) {
    case 'string':
      out.push(goJsonString(typeof v === 'string' ? v : ''));
      return;
    case 'bool':
      out.push(v === true ? 'true' : 'false');
      return;
    case 'int':
      out.push(goInt(v));
      return;
    case 'quantity': {
      if (v === undefined || v === null) {
        out.push('"0"');
        return;
      }
      const raw = typeof v === 'number' ? String(v) : typeof v === 'string' ? v : '';
      const q = parseQuantity(raw);
      out.push(goJsonString(q ? quantityString(q) : raw));
      return;
    }
    case 'intstr':
      out.push(typeof v === 'string' ? goJsonString(v) : goInt(v));
      return;
    case 'time':
      out.push(typeof v === 'string' ? (goTimeJson(v) ?? goJsonString(v)) : 'null');
      return;
    case 'fieldsV1':
      out.push(rawJson(v));
      return;
    case 'pointer':
      if (v === undefined || v === null) out.push('null');
      else encode(node.elem, v, out, flavor);
      return;
    case 'slice':
      if (!Array.isArray(v)) {
        out.push('null');
        return;
      }
      out.push('[');
      v.forEach((item, i) => {
        if (i > 0) out.push(',');
        encode(node.elem, item, out, flavor);
      });
      out.push(']');
      return;
    case 'map': {
      if (!isObject(v)) {
        out.push('null');
        return;
      }
      // Keys are Go strings: an unpaired surrogate is U+FFFD there, and sorts as such.
      const entries = Object.entries(v).map(([k, x]) => [k.toWellFormed(), x] as const);
      entries.sort(([a], [b]) => compareUtf8(a, b));
      out.push('{');
      entries.forEach(([k, x], i) => {
        if (i > 0) out.push(',');
        out.push(goJsonString(k), ':');
        encode(node.elem, x, out, flavor);
      });
      out.push('}');
      return;
    }
    case 'struct': {
      const obj = isObject(v) ? v : {};
      out.push('{');
      let first = true;
      for (const field of node.fields) {
        const fv = Object.hasOwn(obj, field.name) ? obj[field.name] : undefined;
        if (field.omitEmpty && isEmpty(field.node, fv)) continue;
        // omitzero on a metav1.Time: its IsZero is exactly the case its MarshalJSON writes as null.
        if (
          field.omitZeroV19 &&
          flavor === 'argo-v1.9' &&
          (typeof fv !== 'string' || goTimeJson(fv) === 'null')
        ) {
          continue;
        }
        out.push(first ? field.key : `,${field.key}`);
        first = false;
        encode(field.node, fv, out, flavor);
      }
      out.push('}');
      return;
    }
  }
}

/** json.Marshal of the corev1.PodTemplateSpec Go decodes from `template`, as the given Argo release does. */
export function podTemplateGoJson(template: unknown, flavor: PodTemplateJsonFlavor = 'argo-v1.9'): string {
  const out: string[] = [];
  encode(compile(POD_TEMPLATE_ROOT), template, out, flavor);
  return out.join('');
}
