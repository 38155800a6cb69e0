// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}}, then the raw bytes.
// Parsing validates everything the header claims before any tensor is used.
import { promises as fsp } from 'node:fs';
import { UsageError } from './errors.ts';
import { fromFloat16Array, toFloat16Array } from './float16.ts';
import { writeFileAtomic } from './fs-atomic.ts';

/** A named tensor as plain data: float32 or int32 in memory, whatever its stored dtype. */
export interface TensorData {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

export type NamedTensors = Record<string, TensorData>;

/** How float tensors are stored on disk; int32 tensors are always stored as I32. */
export type StorageDtype = 'F32' | 'F16';

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1, I8: 1, U16: 2, I16: 2, F64: 8, BOOL: 1 };
const MAX_HEADER = 100 * 1024 * 1024;

export function encodeSafetensors(tensors: NamedTensors, options: { dtype?: StorageDtype; metadata?: Record<string, string> } = {}): Uint8Array {
  const floatDtype = options.dtype ?? 'F32';
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) throw new Error(`tensor "${name}": shape [${t.shape}] holds ${size} values but data has ${t.data.length}`);
    let bytes: Uint8Array;
    let dtype: string;
    if (t.dtype === 'int32') {
      dtype = 'I32';
      bytes = new Uint8Array(Int32Array.from(t.data).buffer);
    } else if (floatDtype === 'F16') {
      dtype = 'F16';
      bytes = new Uint8Array(toFloat16Array(t.data as Float32Array).buffer);
    } else {
      dtype = 'F32';
      bytes = new Uint8Array(Float32Array.from(t.data).buffer);
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' '; // align data to 8 bytes, as the reference writer does
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

export interface DecodedSafetensors {
  tensors: NamedTensors;
  metadata: Record<string, string>;
}

/** Parses safetensors bytes; `source` names the file in error messages. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): DecodedSafetensors {
  const fail = (what: string): never => {
    throw new UsageError(`${source}: ${what}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for a safetensors header (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER || 8 + headerLen > bytes.length) fail(`header claims ${headerLen} bytes but the file has ${bytes.length - 8} after the length field (truncated?)`);
  let header: any;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLen)).toString('utf8'));
  } catch {
    return fail('header is not valid JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = header.__metadata__ ?? {};
  const tensors: NamedTensors = {};
  const spans: [number, number, string][] = [];
  for (const [name, info] of Object.entries(header as Record<string, any>)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = info ?? {};
    if (!(dtype in BYTES)) fail(`tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) fail(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES[dtype]) fail(`tensor "${name}": ${dtype} [${shape}] needs ${count * BYTES[dtype]} bytes but data_offsets span ${end - begin}`);
    if (end > dataLen) fail(`tensor "${name}" ends at byte ${end} but the data section has ${dataLen} bytes (truncated?)`);
    spans.push([begin, end, name]);
    const raw = Uint8Array.prototype.slice.call(bytes, dataStart + begin, dataStart + end); // a copy (Buffer.slice would be a view): aligned and detached
    tensors[name] = convert(name, dtype, shape as number[], raw, fail);
  }
  // The tensors must tile the data section exactly: no gaps, no overlaps, no trailing bytes.
  spans.sort((a, b) => a[0] - b[0]);
  let pos = 0;
  for (const [begin, end, name] of spans) {
    if (begin !== pos) fail(`tensor "${name}" starts at byte ${begin} but the previous one ends at ${pos} (overlapping or gapped data)`);
    pos = end;
  }
  if (pos !== dataLen) fail(`tensors cover ${pos} bytes but the data section has ${dataLen} (trailing data)`);
  return { tensors, metadata };
}

function convert(name: string, dtype: string, shape: number[], raw: Uint8Array, fail: (w: string) => never): TensorData {
  const buf = raw.buffer;
  switch (dtype) {
    case 'F32':
      return { dtype: 'float32', shape, data: new Float32Array(buf) };
    case 'F16':
      return { dtype: 'float32', shape, data: fromFloat16Array(new Uint16Array(buf)) };
    case 'BF16': {
      const bits = new Uint16Array(buf);
      const u = new Uint32Array(bits.length);
      for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
      return { dtype: 'float32', shape, data: new Float32Array(u.buffer) };
    }
    case 'F64':
      return { dtype: 'float32', shape, data: Float32Array.from(new Float64Array(buf)) };
    case 'I32':
      return { dtype: 'int32', shape, data: new Int32Array(buf) };
    case 'I64':
      return { dtype: 'int32', shape, data: Int32Array.from(new BigInt64Array(buf), (v) => Number(v)) };
    case 'U8':
    case 'BOOL':
      return { dtype: 'int32', shape, data: Int32Array.from(new Uint8Array(buf)) };
    case 'I8':
      return { dtype: 'int32', shape, data: Int32Array.from(new Int8Array(buf)) };
    case 'U16':
      return { dtype: 'int32', shape, data: Int32Array.from(new Uint16Array(buf)) };
    case 'I16':
      return { dtype: 'int32', shape, data: Int32Array.from(new Int16Array(buf)) };
    default:
      return fail(`tensor "${name}" has unsupported dtype ${dtype}`);
  }
}

export async function writeSafetensors(file: string, tensors: NamedTensors, options: { dtype?: StorageDtype; metadata?: Record<string, string> } = {}): Promise<void> {
  await writeFileAtomic(file, encodeSafetensors(tensors, options));
}

export async function readSafetensors(file: string): Promise<DecodedSafetensors> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return decodeSafetensors(bytes, file);
}
