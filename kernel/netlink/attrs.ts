/**
 * Table-driven netlink attributes: a schema maps each field of a typed object to an attribute
 * type and a codec, and the same schema encodes and decodes. Attributes are laid out as the
 * kernel's nla_put does (4-byte header, payload, padding to 4 bytes after every attribute), so
 * bytes we encode compare equal to bytes the kernel dumps. Built on the `netlink` package's
 * attribute framing and integer helpers (host byte order, as netlink requires).
 */
import {
  formatAttribute,
  getU16,
  getU16be,
  getU32,
  getU32be,
  getU8,
  parseAttributes,
  putU16,
  putU16be,
  putU32,
  putU32be,
  putU8,
} from './pkg';
import { bytesToIp, bytesToMac, ipToBytes, macToBytes } from './ip';

/** Converts one field to an attribute payload and back; `undefined` from encode omits the attribute. */
export interface Codec<T> {
  encode(value: T): Buffer | undefined;
  decode(data: Buffer): T;
}

export interface AttrSpec<T> {
  type: number;
  codec: Codec<T>;
  /** Sets NLA_F_NESTED in the header (some kernel parsers, e.g. AF_BRIDGE IFLA_PROTINFO, insist on it). */
  nested?: boolean;
}

/** One spec per field of T, in the order the attributes are written. */
export type AttrSchema<T> = { [K in keyof T]-?: AttrSpec<Exclude<T[K], undefined>> };

const paddingOf = (length: number) => Buffer.alloc((4 - (length % 4)) % 4);

/** One attribute: header, payload, padding. */
export function encodeAttr(type: number, data: Buffer, nested = false): Buffer {
  const framed = Buffer.concat(formatAttribute({ type, data, nested }));
  return Buffer.concat([framed, paddingOf(framed.length)]);
}

/** The attributes of a buffer as (type, payload) pairs, flags stripped from the type. */
export function splitAttrs(data: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  parseAttributes(data, (attr) => out.push([attr.type, attr.data]));
  return out;
}

export function encodeAttrs<T extends object>(schema: AttrSchema<T>, value: T): Buffer {
  const parts: Buffer[] = [];
  for (const key of Object.keys(schema) as (keyof T)[]) {
    const field = value[key];
    if (field === undefined) continue;
    const spec = schema[key] as AttrSpec<unknown>;
    const data = spec.codec.encode(field);
    if (data !== undefined) parts.push(encodeAttr(spec.type, data, spec.nested));
  }
  return Buffer.concat(parts);
}

/** Decodes the attributes the schema knows; others are skipped (the kernel adds new ones often). */
export function decodeAttrs<T extends object>(schema: AttrSchema<T>, data: Buffer): T {
  const byType = new Map<number, [keyof T, AttrSpec<unknown>]>();
  for (const key of Object.keys(schema) as (keyof T)[]) {
    const spec = schema[key] as AttrSpec<unknown>;
    byType.set(spec.type, [key, spec]);
  }
  const out: Partial<Record<keyof T, unknown>> = {};
  for (const [type, payload] of splitAttrs(data)) {
    const entry = byType.get(type);
    if (entry) out[entry[0]] = entry[1].codec.decode(payload);
  }
  return out as T;
}

// Codecs -------------------------------------------------------------------------------------

export const u8: Codec<number> = { encode: (v) => putU8(v), decode: (b) => getU8(b) };
export const u16: Codec<number> = { encode: (v) => putU16(v), decode: (b) => getU16(b) };
export const u32: Codec<number> = { encode: (v) => putU32(v), decode: (b) => getU32(b) };
/** Network byte order (ports, VXLAN labels). */
export const be16: Codec<number> = { encode: (v) => putU16be(v), decode: (b) => getU16be(b) };
export const be32: Codec<number> = { encode: (v) => putU32be(v), decode: (b) => getU32be(b) };
/** A u8 that means on/off. */
export const bool8: Codec<boolean> = { encode: (v) => putU8(v ? 1 : 0), decode: (b) => getU8(b) !== 0 };
/**
 * Zero-length attribute: present means true; false omits it. Some flags come back from the
 * kernel as a u8 0/1 instead (vxlan_fill_info dumps IFLA_VXLAN_TTL_INHERIT so), hence the decode.
 */
export const flag: Codec<boolean> = {
  encode: (v) => (v ? Buffer.alloc(0) : undefined),
  decode: (b) => b.length === 0 || b[0] !== 0,
};
/** NUL-terminated string, as the kernel writes IFLA_INFO_KIND and names. */
export const cstring: Codec<string> = {
  encode: (v) => Buffer.from(`${v}\0`, 'utf8'),
  decode: (b) => {
    const end = b.indexOf(0);
    return b.subarray(0, end < 0 ? b.length : end).toString('utf8');
  },
};
export const ipAddress: Codec<string> = { encode: (v) => ipToBytes(v), decode: (b) => bytesToIp(b) };
export const macAddress: Codec<string> = { encode: (v) => macToBytes(v), decode: (b) => bytesToMac(b) };
export const raw: Codec<Buffer> = { encode: (v) => v, decode: (b) => Buffer.from(b) };

/** A u32/u8 enumeration shown by name. */
export function named<N extends string>(base: Codec<number>, table: Readonly<Record<N, number>>): Codec<N | number> {
  return {
    encode: (v) => base.encode(typeof v === 'number' ? v : table[v]),
    decode: (b) => {
      const value = base.decode(b);
      const hit = (Object.entries(table) as [N, number][]).find(([, n]) => n === value);
      return hit ? hit[0] : value;
    },
  };
}

/** A nested attribute set described by its own schema. */
export function nested<T extends object>(schema: AttrSchema<T>): Codec<T> {
  return { encode: (v) => encodeAttrs(schema, v), decode: (b) => decodeAttrs(schema, b) };
}
