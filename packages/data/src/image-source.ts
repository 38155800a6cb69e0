// One streaming interface over captioned images in any supported format. Decoding and resizing go
// through core's loadImageRgb; a few decodes run ahead (sharp works off the main thread) while the
// output order stays the input order. Bad entries are skipped, reported through onSkip and counted.
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError, loadImageRgb, type FitMode } from '@dalle/core';
import { readImageFolder, readJsonl, readTarShard, type RawSample } from './source-formats.ts';

export interface CaptionedImage {
  key: string;
  /** HWC [size, size, 3], floats in [0, 1]. */
  image: Float32Array;
  /** At least one, each non-empty. */
  captions: string[];
}

export interface SourceStats {
  yielded: number;
  skipped: number;
  /** Skip counts by short reason ('unreadable image', 'missing caption', 'corrupt tar', ...). */
  skippedReasons: Record<string, number>;
}

export interface ImageSourceOptions {
  imageSize: number;
  fit?: FitMode;
  /** Called once per skipped entry with its key and a readable reason; default: a warning on stderr. */
  onSkip?: (key: string, reason: string) => void;
  /** Stop after this many yielded images. */
  limit?: number;
}

/** Iterating again starts a new pass; `stats` describe the current (or last) pass. */
export interface ImageSource extends AsyncIterable<CaptionedImage> {
  readonly spec: string;
  readonly stats: SourceStats;
}

export interface CaptionRecord {
  key: string;
  captions: string[];
}

export interface CaptionSourceOptions {
  /** As for ImageSourceOptions: default a warning on stderr. */
  onSkip?: (key: string, reason: string) => void;
  limit?: number;
}

/** Captions of any source without decoding images (tar shards are still read through). */
export interface CaptionSource extends AsyncIterable<CaptionRecord> {
  readonly spec: string;
  readonly stats: SourceStats;
}

/** Decodes this many images ahead of the consumer. */
const DECODE_AHEAD = 4;

type SingleSource = { kind: 'folder'; dir: string } | { kind: 'tar'; files: string[] } | { kind: 'jsonl'; file: string };
type SourceKind = SingleSource | { kind: 'list'; parts: SingleSource[] };

const SPEC_HELP = 'expected a folder of images with same-named .txt captions, a .tar shard, a folder of .tar shards, a .jsonl file, or a comma-separated list of these';

/** Works out which format `spec` names (a comma list: each part, read in order); throws UsageError for anything else. */
export function resolveSourceSpec(spec: string): SourceKind {
  if (typeof spec !== 'string' || spec.trim() === '') throw new UsageError(`data spec is empty: ${SPEC_HELP}`);
  const parts = spec.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length > 1) return { kind: 'list', parts: parts.map(resolveSingleSpec) };
  return resolveSingleSpec(parts[0]);
}

function resolveSingleSpec(p: string): SingleSource {
  if (!existsSync(p)) throw new UsageError(`data not found: "${p}" (${SPEC_HELP})`);
  const st = statSync(p);
  const lower = p.toLowerCase();
  if (st.isFile() && lower.endsWith('.jsonl')) return { kind: 'jsonl', file: p };
  if (st.isFile() && lower.endsWith('.tar')) return { kind: 'tar', files: [p] };
  if (st.isDirectory()) {
    const names = readdirSync(p).sort();
    const tars = names.filter((n) => n.toLowerCase().endsWith('.tar'));
    const hasImages = names.some((n) => /\.(png|jpe?g|webp)$/i.test(n));
    if (tars.length > 0 && !hasImages) return { kind: 'tar', files: tars.map((n) => path.join(p, n)) };
    return { kind: 'folder', dir: p };
  }
  throw new UsageError(`unsupported data spec "${p}": ${SPEC_HELP}`);
}

async function* rawSamples(kind: SourceKind): AsyncGenerator<RawSample> {
  if (kind.kind === 'list') for (const part of kind.parts) yield* rawSamples(part);
  else if (kind.kind === 'folder') yield* readImageFolder(kind.dir);
  else if (kind.kind === 'jsonl') yield* readJsonl(kind.file);
  else for (const f of kind.files) yield* readTarShard(f);
}

function emptyStats(): SourceStats {
  return { yielded: 0, skipped: 0, skippedReasons: {} };
}

function warnSkip(key: string, reason: string): void {
  console.warn(`skipped ${key}: ${reason}`);
}

function recordSkip(stats: SourceStats, key: string, reason: string, detail: string, onSkip: (key: string, reason: string) => void = warnSkip): void {
  stats.skipped++;
  stats.skippedReasons[reason] = (stats.skippedReasons[reason] ?? 0) + 1;
  onSkip(key, `${reason}: ${detail}`);
}

type Decoded = { kind: 'image'; item: CaptionedImage } | { kind: 'skip'; key: string; reason: string; detail: string };

async function decodeSample(s: RawSample, options: ImageSourceOptions): Promise<Decoded> {
  if (s.kind === 'skip') return s;
  try {
    const image = await loadImageRgb(s.image, options.imageSize, { fit: options.fit ?? 'cover' });
    return { kind: 'image', item: { key: s.key, image, captions: s.captions } };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e.code === 'ENOENT' || /no such file|missing/i.test(e.message) ? 'missing image' : 'unreadable image';
    return { kind: 'skip', key: s.key, reason, detail: e.message.split('\n')[0] };
  }
}

class ImageSourceImpl implements ImageSource {
  stats: SourceStats = emptyStats();
  private readonly kind: SourceKind;

  constructor(
    readonly spec: string,
    private readonly options: ImageSourceOptions,
  ) {
    this.kind = resolveSourceSpec(spec);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<CaptionedImage> {
    const stats = (this.stats = emptyStats());
    const { limit, onSkip } = this.options;
    if (limit !== undefined && limit <= 0) return;
    const pending: Promise<Decoded>[] = [];
    const raw = rawSamples(this.kind);
    try {
      let exhausted = false;
      while (!exhausted || pending.length > 0) {
        while (!exhausted && pending.length < DECODE_AHEAD) {
          const r = await raw.next();
          if (r.done) exhausted = true;
          else pending.push(decodeSample(r.value, this.options));
        }
        const first = pending.shift();
        if (!first) break;
        const d = await first;
        if (d.kind === 'skip') {
          recordSkip(stats, d.key, d.reason, d.detail, onSkip);
          continue;
        }
        stats.yielded++;
        yield d.item;
        if (limit !== undefined && stats.yielded >= limit) return;
      }
    } finally {
      await raw.return(undefined);
    }
  }
}

/** A captioned-image source over `spec`; the format is detected from the path (see SPEC_HELP). */
export function openImageSource(spec: string, options: ImageSourceOptions): ImageSource {
  if (!Number.isInteger(options.imageSize) || options.imageSize < 1) throw new UsageError(`imageSize must be a positive integer, got ${options.imageSize}`);
  return new ImageSourceImpl(spec, options);
}

class CaptionSourceImpl implements CaptionSource {
  stats: SourceStats = emptyStats();
  private readonly kind: SourceKind;

  constructor(
    readonly spec: string,
    private readonly options: CaptionSourceOptions,
  ) {
    this.kind = resolveSourceSpec(spec);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<CaptionRecord> {
    const stats = (this.stats = emptyStats());
    const { limit, onSkip } = this.options;
    if (limit !== undefined && limit <= 0) return;
    for await (const s of rawSamples(this.kind)) {
      if (s.kind === 'skip') {
        recordSkip(stats, s.key, s.reason, s.detail, onSkip);
        continue;
      }
      stats.yielded++;
      yield { key: s.key, captions: s.captions };
      if (limit !== undefined && stats.yielded >= limit) return;
    }
  }
}

/** The captions of any image source, without decoding images (for tokenizer training). */
export function openCaptionSource(spec: string, options: CaptionSourceOptions = {}): CaptionSource {
  return new CaptionSourceImpl(spec, options);
}
