// The three on-disk formats of captioned images, read as a stream of raw samples (captions plus
// the image as a path or bytes, not yet decoded): an image folder with same-named .txt captions,
// WebDataset-style tar shards (key.png + key.txt|json), and JSONL ({"image", "caption"}).
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { readTarEntries } from './tar.ts';

export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp'] as const;

/** A sample before decoding, or a notice that an entry was skipped (with a short reason category). */
export type RawSample =
  | { kind: 'sample'; key: string; captions: string[]; image: string | Buffer }
  | { kind: 'skip'; key: string; reason: string; detail: string };

/** Non-empty trimmed lines of a caption file: one caption per line. */
export function parseCaptionText(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/** Captions from a JSON value: a string, a string array, or an object with caption/captions/text. */
export function parseCaptionJson(value: unknown): string[] | undefined {
  if (typeof value === 'string') return parseCaptionText(value);
  if (Array.isArray(value)) {
    if (!value.every((v) => typeof v === 'string')) return undefined;
    return value.map((v: string) => v.trim()).filter((v) => v.length > 0);
  }
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    for (const field of ['caption', 'captions', 'text']) if (field in o) return parseCaptionJson(o[field]);
  }
  return undefined;
}

function isImageFile(name: string): boolean {
  const ext = path.extname(name).slice(1).toLowerCase();
  return (IMAGE_EXTENSIONS as readonly string[]).includes(ext);
}

/** Files under `dir`, recursively, as sorted '/'-separated relative paths (hidden entries skipped). */
async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const entries = await fsp.readdir(path.join(dir, rel), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, r)));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

function stripExt(rel: string): string {
  const ext = path.extname(rel);
  return ext ? rel.slice(0, -ext.length) : rel;
}

/** An image folder: every image with a same-named .txt (one caption per line), in path order. */
export async function* readImageFolder(dir: string): AsyncGenerator<RawSample> {
  const files = await listFiles(dir);
  const fileSet = new Set(files);
  const imageKeys = new Set<string>();
  for (const rel of files) {
    if (!isImageFile(rel)) continue;
    const key = stripExt(rel);
    imageKeys.add(key);
    const txt = `${key}.txt`;
    if (!fileSet.has(txt)) {
      yield { kind: 'skip', key, reason: 'missing caption', detail: `no ${txt} beside ${rel}` };
      continue;
    }
    let captions: string[];
    try {
      captions = parseCaptionText(await fsp.readFile(path.join(dir, txt), 'utf8'));
    } catch (err) {
      yield { kind: 'skip', key, reason: 'unreadable caption', detail: `${txt}: ${(err as Error).message}` };
      continue;
    }
    if (captions.length === 0) {
      yield { kind: 'skip', key, reason: 'empty caption', detail: `${txt} has no non-empty line` };
      continue;
    }
    yield { kind: 'sample', key, captions, image: path.join(dir, rel) };
  }
  for (const rel of files) {
    if (rel.endsWith('.txt') && !imageKeys.has(stripExt(rel))) {
      yield { kind: 'skip', key: stripExt(rel), reason: 'missing image', detail: `${rel} has no image beside it` };
    }
  }
}

/** WebDataset key and extension: the key is the path up to the first dot of the file name. */
function splitWebDatasetName(name: string): { key: string; ext: string } {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  return dot < 0 ? { key: name, ext: '' } : { key: name.slice(0, dot), ext: name.slice(dot + 1).toLowerCase() };
}

function sampleFromGroup(key: string, files: Map<string, Buffer>): RawSample {
  const fullKey = key;
  const imageExt = IMAGE_EXTENSIONS.find((e) => files.has(e));
  if (!imageExt) return { kind: 'skip', key: fullKey, reason: 'missing image', detail: `no ${IMAGE_EXTENSIONS.join('|')} among .${[...files.keys()].join(', .')}` };
  let captions: string[] | undefined;
  if (files.has('txt')) captions = parseCaptionText(files.get('txt')!.toString('utf8'));
  else if (files.has('json')) {
    try {
      captions = parseCaptionJson(JSON.parse(files.get('json')!.toString('utf8')));
    } catch (err) {
      return { kind: 'skip', key: fullKey, reason: 'bad caption json', detail: (err as Error).message };
    }
  } else return { kind: 'skip', key: fullKey, reason: 'missing caption', detail: `no .txt or .json beside .${imageExt}` };
  if (!captions || captions.length === 0) return { kind: 'skip', key: fullKey, reason: 'empty caption', detail: 'no non-empty caption' };
  return { kind: 'sample', key: fullKey, captions, image: files.get(imageExt)! };
}

/**
 * One WebDataset tar shard: consecutive entries sharing a key form a sample. A malformed or
 * truncated archive ends the shard with one skip notice after every complete sample before it.
 */
export async function* readTarShard(file: string): AsyncGenerator<RawSample> {
  const shardName = path.basename(file);
  let key: string | undefined;
  let group = new Map<string, Buffer>();
  try {
    for await (const entry of readTarEntries(file)) {
      const { key: k, ext } = splitWebDatasetName(entry.name);
      if (k !== key) {
        if (key !== undefined) yield sampleFromGroup(key, group);
        key = k;
        group = new Map();
      }
      if (!group.has(ext)) group.set(ext, entry.data);
    }
  } catch (err) {
    // the last group read completely before the damage still counts
    if (key !== undefined && group.size > 0) yield sampleFromGroup(key, group);
    yield { kind: 'skip', key: `${shardName}:${key ?? ''}`, reason: 'corrupt tar', detail: `${file}: ${(err as Error).message}; rest of the shard skipped` };
    return;
  }
  if (key !== undefined) yield sampleFromGroup(key, group);
}

/** A JSONL file: one {"image": path relative to the file, "caption": string | string[]} per line. */
export async function* readJsonl(file: string): AsyncGenerator<RawSample> {
  const dir = path.dirname(file);
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const raw of lines) {
    lineNo++;
    const line = raw.trim();
    if (line === '') continue;
    const lineKey = `${path.basename(file)}:${lineNo}`;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (err) {
      yield { kind: 'skip', key: lineKey, reason: 'bad record', detail: `line ${lineNo}: ${(err as Error).message}` };
      continue;
    }
    const r = record as Record<string, unknown>;
    if (!r || typeof r !== 'object' || typeof r.image !== 'string' || r.image === '') {
      yield { kind: 'skip', key: lineKey, reason: 'bad record', detail: `line ${lineNo}: expected {"image": string, "caption": string | string[]}` };
      continue;
    }
    const key = stripExt(r.image.replace(/\\/g, '/'));
    const captions = parseCaptionJson(r.caption ?? r.captions ?? r.text);
    if (!captions || captions.length === 0) {
      yield { kind: 'skip', key, reason: 'empty caption', detail: `line ${lineNo}: caption must be a non-empty string or string array` };
      continue;
    }
    yield { kind: 'sample', key, captions, image: path.resolve(dir, r.image) };
  }
}
