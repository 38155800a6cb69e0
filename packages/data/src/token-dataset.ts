// The token dataset: fixed-size little-endian uint16 records [text ids x T | image codes x G*G]
// in shards shard-00000.bin ..., described by manifest.json (see packages/data/FORMAT.md).
// The writer stages shards beside the target and swaps the folder in atomically on close; the
// reader refuses truncated or altered shards and any manifest field that differs from `expect`.
import { randomBytes, createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError, writeDirAtomic, writeFileAtomic } from '@dalle/core';
import { GROUPS_FILE, GroupCollector, parseGroups, serializeGroups, type RecordGroups } from './record-groups.ts';

export const TOKEN_DATASET_FORMAT_VERSION = 1;
export const TOKEN_MANIFEST_FILE = 'manifest.json';
/** 65,536 records of the emoji-64 layout (32 + 64 ids) make a 12.6 MB shard: few files, cheap to hash. */
export const DEFAULT_RECORDS_PER_SHARD = 65536;

export interface TokenDatasetInfo {
  textSeqLen: number;
  gridSize: number;
  codebookSize: number;
  textVocabSize: number;
  dvaeId: string;
  tokenizerId: string;
}

export interface TokenDatasetManifest extends TokenDatasetInfo {
  formatVersion: 1;
  count: number;
  shards: { file: string; records: number; bytes: number; sha256: string }[];
  /** Present when dvae-encode named each record's group (--group-by): groups.json beside the shards. */
  groups?: { file: string; by: string; count: number; sha256: string };
}

/** Image codes per record. */
export function imageSeqLen(info: Pick<TokenDatasetInfo, 'gridSize'>): number {
  return info.gridSize * info.gridSize;
}

/** uint16 values per record: text ids then image codes. */
export function recordLength(info: Pick<TokenDatasetInfo, 'textSeqLen' | 'gridSize'>): number {
  return info.textSeqLen + imageSeqLen(info);
}

/** Bytes per record (uint16, little-endian). */
export function recordBytes(info: Pick<TokenDatasetInfo, 'textSeqLen' | 'gridSize'>): number {
  return 2 * recordLength(info);
}

export function shardFileName(i: number): string {
  return `shard-${String(i).padStart(5, '0')}.bin`;
}

const INFO_FIELDS = ['textSeqLen', 'gridSize', 'codebookSize', 'textVocabSize', 'dvaeId', 'tokenizerId'] as const;

/** Checks a dataset description; ids must fit uint16. */
export function checkTokenDatasetInfo(info: TokenDatasetInfo, where = 'token dataset'): void {
  const positive = (name: keyof TokenDatasetInfo, max: number) => {
    const v = info[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw new UsageError(`${where}: ${name} must be an integer in [1, ${max}], got ${JSON.stringify(v)}`);
  };
  positive('textSeqLen', 65535);
  positive('gridSize', 255);
  positive('codebookSize', 65536);
  positive('textVocabSize', 65536);
  for (const name of ['dvaeId', 'tokenizerId'] as const) {
    if (typeof info[name] !== 'string' || info[name] === '') throw new UsageError(`${where}: ${name} must be a non-empty string, got ${JSON.stringify(info[name])}`);
  }
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

export class TokenDatasetWriter {
  private readonly record: Uint16Array;
  private readonly shardBuf: Buffer;
  private inShard = 0;
  private count = 0;
  private closed = false;
  private readonly shards: TokenDatasetManifest['shards'] = [];
  private readonly groups: GroupCollector | undefined;

  private constructor(
    readonly dir: string,
    readonly info: TokenDatasetInfo,
    private readonly staging: string,
    private readonly recordsPerShard: number,
    groupBy: string | undefined,
  ) {
    this.groups = groupBy === undefined ? undefined : new GroupCollector(groupBy);
    this.record = new Uint16Array(recordLength(info));
    this.shardBuf = Buffer.alloc(recordsPerShard * recordBytes(info));
  }

  /**
   * Starts a dataset that will replace `dir` when close() succeeds. With `groupBy` (the rule's
   * name), every add() names its record's group and close() writes groups.json.
   */
  static async create(dir: string, info: TokenDatasetInfo, options: { recordsPerShard?: number; groupBy?: string } = {}): Promise<TokenDatasetWriter> {
    checkTokenDatasetInfo(info);
    const recordsPerShard = options.recordsPerShard ?? DEFAULT_RECORDS_PER_SHARD;
    if (!Number.isInteger(recordsPerShard) || recordsPerShard < 1) throw new UsageError(`recordsPerShard must be a positive integer, got ${recordsPerShard}`);
    if (options.groupBy !== undefined && (typeof options.groupBy !== 'string' || options.groupBy === '')) throw new UsageError(`groupBy must be a non-empty string, got ${JSON.stringify(options.groupBy)}`);
    const abs = path.resolve(dir);
    await fsp.mkdir(path.dirname(abs), { recursive: true });
    const staging = path.join(path.dirname(abs), `.${path.basename(abs)}.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
    await fsp.mkdir(staging);
    const copy = Object.fromEntries(INFO_FIELDS.map((k) => [k, info[k]])) as unknown as TokenDatasetInfo;
    return new TokenDatasetWriter(abs, copy, staging, recordsPerShard, options.groupBy);
  }

  get size(): number {
    return this.count;
  }

  /** Appends one record: textSeqLen text ids (already padded), gridSize^2 image codes and, when the writer groups records, the record's group name. */
  async add(textIds: ArrayLike<number>, codes: ArrayLike<number>, group?: string): Promise<void> {
    if (this.closed) throw new Error('TokenDatasetWriter: add() after close()');
    if (this.groups && typeof group !== 'string') throw new UsageError(`record ${this.count}: this dataset groups its records (by ${this.groups.by}); pass the record's group name`);
    if (!this.groups && group !== undefined) throw new UsageError(`record ${this.count}: a group name was given but the writer was created without groupBy`);
    const { textSeqLen, textVocabSize, codebookSize } = this.info;
    const G2 = imageSeqLen(this.info);
    if (textIds.length !== textSeqLen) throw new UsageError(`record ${this.count}: expected ${textSeqLen} text ids (padded), got ${textIds.length}`);
    if (codes.length !== G2) throw new UsageError(`record ${this.count}: expected ${G2} image codes (grid ${this.info.gridSize}x${this.info.gridSize}), got ${codes.length}`);
    const rec = this.record;
    for (let i = 0; i < textSeqLen; i++) {
      const v = textIds[i];
      if (!Number.isInteger(v) || v < 0 || v >= textVocabSize) throw new UsageError(`record ${this.count}: text id ${v} at position ${i} is outside [0, ${textVocabSize})`);
      rec[i] = v;
    }
    for (let i = 0; i < G2; i++) {
      const v = codes[i];
      if (!Number.isInteger(v) || v < 0 || v >= codebookSize) throw new UsageError(`record ${this.count}: image code ${v} at position ${i} is outside [0, ${codebookSize})`);
      rec[textSeqLen + i] = v;
    }
    const off = this.inShard * rec.length * 2;
    for (let i = 0; i < rec.length; i++) this.shardBuf.writeUInt16LE(rec[i], off + 2 * i);
    this.groups?.add(group!);
    this.inShard++;
    this.count++;
    if (this.inShard === this.recordsPerShard) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.inShard === 0) return;
    const bytes = this.shardBuf.subarray(0, this.inShard * recordBytes(this.info));
    const file = shardFileName(this.shards.length);
    await fsp.writeFile(path.join(this.staging, file), bytes);
    this.shards.push({ file, records: this.inShard, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    this.inShard = 0;
  }

  /** Writes the last shard and the manifest, then swaps the folder into place. */
  async close(): Promise<TokenDatasetManifest> {
    if (this.closed) throw new Error('TokenDatasetWriter: close() called twice');
    this.closed = true;
    try {
      await this.flush();
      const manifest: TokenDatasetManifest = { formatVersion: TOKEN_DATASET_FORMAT_VERSION, ...this.info, count: this.count, shards: this.shards };
      let groupsText: string | undefined;
      if (this.groups) {
        groupsText = serializeGroups(this.groups.result());
        manifest.groups = { file: GROUPS_FILE, by: this.groups.by, count: this.groups.names.length, sha256: createHash('sha256').update(groupsText).digest('hex') };
      }
      await writeDirAtomic(this.dir, async (tmp) => {
        for (const s of this.shards) await fsp.rename(path.join(this.staging, s.file), path.join(tmp, s.file));
        if (groupsText) await fsp.writeFile(path.join(tmp, GROUPS_FILE), groupsText);
        await writeFileAtomic(path.join(tmp, TOKEN_MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
      });
      return manifest;
    } finally {
      await fsp.rm(this.staging, { recursive: true, force: true });
    }
  }

  /** Drops everything written so far; `dir` is left untouched. */
  async abort(): Promise<void> {
    this.closed = true;
    await fsp.rm(this.staging, { recursive: true, force: true });
  }
}

export interface TokenDataset {
  readonly dir: string;
  readonly manifest: TokenDatasetManifest;
  readonly size: number;
  /** Each record's group, when the dataset was encoded with --group-by. */
  readonly groups?: RecordGroups;
  record(i: number): { text: Uint16Array; codes: Uint16Array };
  /** text: [B * textSeqLen], codes: [B * gridSize^2]. */
  batch(indices: number[]): { text: Int32Array; codes: Int32Array };
}

function parseManifest(text: string, file: string): TokenDatasetManifest {
  let m: TokenDatasetManifest;
  try {
    m = JSON.parse(text) as TokenDatasetManifest;
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!m || typeof m !== 'object') throw new UsageError(`${file}: expected a JSON object`);
  if (m.formatVersion !== TOKEN_DATASET_FORMAT_VERSION) throw new UsageError(`${file}: formatVersion ${JSON.stringify(m.formatVersion)} is not supported (expected ${TOKEN_DATASET_FORMAT_VERSION})`);
  checkTokenDatasetInfo(m, file);
  if (!Number.isInteger(m.count) || m.count < 0) throw new UsageError(`${file}: count must be a non-negative integer, got ${JSON.stringify(m.count)}`);
  if (!Array.isArray(m.shards)) throw new UsageError(`${file}: shards must be an array`);
  for (const s of m.shards) {
    if (!s || typeof s.file !== 'string' || path.basename(s.file) !== s.file || !Number.isInteger(s.records) || !Number.isInteger(s.bytes) || typeof s.sha256 !== 'string') {
      throw new UsageError(`${file}: malformed shard entry ${JSON.stringify(s)} (expected {file, records, bytes, sha256})`);
    }
  }
  const g = m.groups;
  if (g !== undefined && (!g || typeof g.file !== 'string' || path.basename(g.file) !== g.file || typeof g.by !== 'string' || !Number.isInteger(g.count) || typeof g.sha256 !== 'string')) {
    throw new UsageError(`${file}: malformed groups entry ${JSON.stringify(g)} (expected {file, by, count, sha256})`);
  }
  return m;
}

async function readGroups(dir: string, m: TokenDatasetManifest): Promise<RecordGroups | undefined> {
  if (!m.groups) return undefined;
  const file = path.join(dir, m.groups.file);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    throw new UsageError(`token dataset groups file missing: ${file}`);
  }
  const digest = createHash('sha256').update(text).digest('hex');
  if (digest !== m.groups.sha256) throw new UsageError(`token dataset groups file ${file} has sha256 ${digest}, manifest says ${m.groups.sha256} (corrupt or replaced)`);
  const groups = parseGroups(text, file, m.count);
  if (groups.by !== m.groups.by || groups.names.length !== m.groups.count) throw new UsageError(`${file} says ${groups.names.length} groups by "${groups.by}", the manifest ${m.groups.count} by "${m.groups.by}"`);
  return groups;
}

class LoadedTokenDataset implements TokenDataset {
  constructor(
    readonly dir: string,
    readonly manifest: TokenDatasetManifest,
    private readonly data: Uint16Array,
    readonly groups?: RecordGroups,
  ) {}

  get size(): number {
    return this.manifest.count;
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new RangeError(`record index ${i} is outside [0, ${this.size})`);
  }

  record(i: number): { text: Uint16Array; codes: Uint16Array } {
    this.check(i);
    const T = this.manifest.textSeqLen;
    const L = recordLength(this.manifest);
    return { text: this.data.slice(i * L, i * L + T), codes: this.data.slice(i * L + T, (i + 1) * L) };
  }

  batch(indices: number[]): { text: Int32Array; codes: Int32Array } {
    const T = this.manifest.textSeqLen;
    const G2 = imageSeqLen(this.manifest);
    const L = T + G2;
    const text = new Int32Array(indices.length * T);
    const codes = new Int32Array(indices.length * G2);
    indices.forEach((i, b) => {
      this.check(i);
      text.set(this.data.subarray(i * L, i * L + T), b * T);
      codes.set(this.data.subarray(i * L + T, (i + 1) * L), b * G2);
    });
    return { text, codes };
  }
}

/** Opens a token dataset, verifying every shard's size and sha256 and each field of `expect`. */
export async function openTokenDataset(dir: string, expect: Partial<TokenDatasetInfo> = {}): Promise<TokenDataset> {
  const abs = path.resolve(dir);
  const manifestFile = path.join(abs, TOKEN_MANIFEST_FILE);
  let text: string;
  try {
    text = await fsp.readFile(manifestFile, 'utf8');
  } catch {
    throw new UsageError(`not a token dataset: ${manifestFile} is missing (create one with dvae-encode)`);
  }
  const m = parseManifest(text, manifestFile);
  for (const k of INFO_FIELDS) {
    if (expect[k] !== undefined && expect[k] !== m[k]) {
      throw new UsageError(`token dataset ${abs} has ${k} ${JSON.stringify(m[k])}, expected ${JSON.stringify(expect[k])}`);
    }
  }
  const rb = recordBytes(m);
  const recordsInShards = m.shards.reduce((a, s) => a + s.records, 0);
  if (recordsInShards !== m.count) throw new UsageError(`${manifestFile}: shards hold ${recordsInShards} records, count says ${m.count}`);
  const data = new Uint16Array(m.count * recordLength(m));
  let offset = 0;
  for (const s of m.shards) {
    const file = path.join(abs, s.file);
    if (s.bytes !== s.records * rb) throw new UsageError(`${manifestFile}: ${s.file} lists ${s.bytes} bytes for ${s.records} records of ${rb} bytes`);
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(file);
    } catch {
      throw new UsageError(`token dataset shard missing: ${file}`);
    }
    if (bytes.length !== s.bytes) throw new UsageError(`token dataset shard ${file} is ${bytes.length} bytes, manifest says ${s.bytes} (${bytes.length < s.bytes ? 'truncated' : 'extra bytes'})`);
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== s.sha256) throw new UsageError(`token dataset shard ${file} has sha256 ${digest}, manifest says ${s.sha256} (corrupt or replaced)`);
    const n = bytes.length / 2;
    if (LITTLE_ENDIAN) data.set(new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)), offset);
    else for (let i = 0; i < n; i++) data[offset + i] = bytes.readUInt16LE(2 * i);
    offset += n;
  }
  for (let r = 0; r < m.count; r++) {
    // ids past the manifest's vocabularies mean a mismatched writer; catch it here, not in training
    const base = r * recordLength(m);
    for (let i = 0; i < m.textSeqLen; i++) if (data[base + i] >= m.textVocabSize) throw new UsageError(`${abs}: record ${r} has text id ${data[base + i]} >= textVocabSize ${m.textVocabSize}`);
    for (let i = m.textSeqLen; i < recordLength(m); i++) if (data[base + i] >= m.codebookSize) throw new UsageError(`${abs}: record ${r} has image code ${data[base + i]} >= codebookSize ${m.codebookSize}`);
  }
  return new LoadedTokenDataset(abs, m, data, await readGroups(abs, m));
}
