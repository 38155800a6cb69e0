// Builds the emoji dataset (shared DATA.md) from the npm packages installed beside this package:
// 64x64 images composited on white + 4 captions each, deduped per set, split by concept hash.
import { createRequire } from 'node:module';
import { promises as fsp, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { Progress, UsageError, encodePng, floatsToRgbBytes, loadImageRgb, sha256, writeDirAtomic, writeFileAtomic } from '@dalle/core';
import { emojiCaptions, type EmojiMeta, type EmojiStyle } from './emoji-captions.ts';
import { EMOJI_SPLITS, PINNED_TRAIN_CONCEPTS, SPLIT_RULE, baseKey, emojiSplit, type EmojiSplit } from './emoji-split.ts';

export const EMOJI_SETS = ['google', 'twitter', 'fluent', 'fluent-flat', 'fluent-color'] as const;
export type EmojiSet = (typeof EMOJI_SETS)[number];
/** What `dalle-data emoji` builds unless told otherwise (the shipped dVAE was trained on these two). */
export const DEFAULT_EMOJI_SETS: EmojiSet[] = ['google', 'twitter'];

/** Source images are 64 px; keeping that size avoids resampling. */
export const EMOJI_IMAGE_SIZE = 64;

interface SetInfo {
  pkg: string;
  style: EmojiStyle;
  /** Which files of the package are used, and how. */
  use: string;
  art: string;
  artLicence: string;
}

/** The Iconify icon sets that carry Fluent's 2D styles (SVG in JSON, with a codepoint index). */
const ICONIFY_USE = 'icons.json SVG bodies joined to codepoints by chars.json, rendered at 64x64';
/**
 * The Iconify package whose chars.json joins codepoints to Fluent icon names. The Color set ships
 * an empty chars.json but names its icons as the Flat set does (all 3,139 indexed names exist in both).
 */
const FLUENT_CHARS_PKG = '@iconify-json/fluent-emoji-flat';

const SET_INFO: Record<EmojiSet, SetInfo> = {
  google: { pkg: 'emoji-datasource-google', style: 'Noto', use: 'img/google/64 PNGs + emoji.json', art: 'Noto Emoji, (c) Google', artLicence: 'Apache-2.0' },
  twitter: { pkg: 'emoji-datasource-twitter', style: 'Twemoji', use: 'img/twitter/64 PNGs + emoji.json', art: 'Twemoji graphics, (c) Twitter, Inc. and other contributors', artLicence: 'CC-BY-4.0' },
  fluent: {
    pkg: '@lobehub/fluent-emoji-3d',
    style: '3D Fluent',
    use: 'assets/<codepoints>.webp (256 px), trimmed, fitted to 60 px and centred on 64',
    art: 'Fluent Emoji 3D, (c) Microsoft',
    artLicence: 'MIT',
  },
  'fluent-flat': { pkg: '@iconify-json/fluent-emoji-flat', style: 'Fluent Flat', use: ICONIFY_USE, art: 'Fluent Emoji Flat, (c) Microsoft', artLicence: 'MIT' },
  'fluent-color': { pkg: '@iconify-json/fluent-emoji', style: 'Fluent Color', use: `${ICONIFY_USE} (the chars.json of ${FLUENT_CHARS_PKG})`, art: 'Fluent Emoji Color, (c) Microsoft', artLicence: 'MIT' },
};
/** The style name each set's captions use ("an avocado, Noto emoji style"). */
export const EMOJI_SET_STYLES = Object.fromEntries(EMOJI_SETS.map((s) => [s, SET_INFO[s].style])) as Record<EmojiSet, EmojiStyle>;
const METADATA_PKG = 'emojibase-data';
/** emoji.json (names, categories, skin variations) comes with every emoji-datasource pack. */
const EMOJI_JSON_PKG = 'emoji-datasource-google';

export const EMOJI_CREDITS = [
  'Noto Emoji: Apache-2.0, (c) Google (emoji-datasource-google).',
  'Twemoji graphics: (c) Twitter, Inc. and other contributors, licensed CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/); images were resized to 64x64 and composited on white (emoji-datasource-twitter).',
  'Fluent Emoji 3D: MIT, (c) Microsoft (@lobehub/fluent-emoji-3d); images were trimmed, resized to 60 px, centred on 64x64 and composited on white.',
  'Fluent Emoji Flat: MIT, (c) Microsoft (@iconify-json/fluent-emoji-flat); SVGs were rendered at 64x64 on white.',
  'Fluent Emoji Color: MIT, (c) Microsoft (@iconify-json/fluent-emoji); SVGs were rendered at 64x64 on white.',
  'Labels and keywords: emojibase-data (MIT), from Unicode CLDR.',
];

/** Fluent 3D art fills less of its frame than Noto or Twemoji: trimmed, it is fitted to this many pixels and centred. */
export const FLUENT_FIT = 60;

export interface EmojiBuildOptions {
  outDir: string;
  sets?: EmojiSet[];
  /** Smoke subset: only this many base concepts (the pinned ones first, then emoji.json order). */
  limit?: number;
  /** No progress bar. */
  quiet?: boolean;
}

export interface EmojiSplitCounts {
  images: number;
  pairs: number;
  concepts: number;
}

export interface EmojiManifest {
  kind: 'emoji-dataset';
  formatVersion: 1;
  builtAt: string;
  buildSeconds: number;
  imageSize: number;
  sets: EmojiSet[];
  limit: number | null;
  sources: { package: string; version: string; use: string; licence: string }[];
  splitRule: string;
  pinnedTrainConcepts: string[];
  counts: Record<EmojiSplit, EmojiSplitCounts> & { total: EmojiSplitCounts };
  duplicatesDropped: Record<string, number>;
  missingMetadata: string[];
  /** Pictures the SVG renderer could not draw ("<set> <codepoints>: <error>"); they are left out. */
  unrenderable: string[];
  captionsPerImage: number;
  credits: string[];
}

interface DatasourceEmoji {
  unified: string;
  image: string;
  category: string;
  name: string;
  [hasImg: `has_img_${string}`]: boolean | undefined;
  skin_variations?: Record<string, { unified: string; image: string; [hasImg: `has_img_${string}`]: boolean | undefined }>;
}

interface EmojibaseEntry {
  label: string;
  hexcode: string;
  tags?: string[];
  subgroup?: number;
  skins?: EmojibaseEntry[];
}

const require = createRequire(import.meta.url);

function packageDir(pkg: string): string {
  try {
    return path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    throw new UsageError(`npm package ${pkg} is not installed (it is a devDependency of @dalle/data: run pnpm install)`);
  }
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** emojibase hexcode key: uppercase, without FE0F (DATA.md: strip it on both sides to join). */
function joinKey(hex: string): string {
  return hex
    .toUpperCase()
    .split('-')
    .filter((h) => h !== 'FE0F')
    .join('-');
}

/** Label, tags and readable subgroup per joinKey, skin tones included (they inherit tags). */
function loadMetadata(dir: string): Map<string, EmojiMeta> {
  const data = readJson<EmojibaseEntry[]>(path.join(dir, 'en', 'data.json'));
  const messages = readJson<{ subgroups: { order: number; message: string }[] }>(path.join(dir, 'en', 'messages.json'));
  const subgroups = new Map<number, string>();
  for (const s of messages.subgroups) subgroups.set(s.order, s.message); // a repeated order keeps the later name
  const out = new Map<string, EmojiMeta>();
  for (const e of data) {
    const tags = e.tags ?? [];
    const subgroup = subgroups.get(e.subgroup ?? -1) ?? 'other';
    out.set(joinKey(e.hexcode), { label: e.label, tags, subgroup });
    for (const s of e.skins ?? []) out.set(joinKey(s.hexcode), { label: s.label, tags: s.tags ?? tags, subgroup: subgroups.get(s.subgroup ?? -1) ?? subgroup });
  }
  return out;
}

const REGIONAL_INDICATOR = /^1F1(E[6-9A-F]|F[0-9A-F])$/;

interface Variant {
  unified: string;
  image: string;
  hasImg: (set: EmojiSet) => boolean;
  name: string;
}

/** Every image-bearing variant in emoji.json order (skin tones after their base, by tone key). */
function listVariants(emojiJson: DatasourceEmoji[]): Variant[] {
  const out: Variant[] = [];
  for (const e of emojiJson) {
    if (e.category === 'Component' || REGIONAL_INDICATOR.test(e.unified)) continue;
    out.push({ unified: e.unified, image: e.image, name: e.name, hasImg: (s) => e[`has_img_${s}`] === true });
    for (const tone of Object.keys(e.skin_variations ?? {}).sort()) {
      const v = e.skin_variations![tone];
      out.push({ unified: v.unified, image: v.image, name: e.name, hasImg: (s) => v[`has_img_${s}`] === true });
    }
  }
  return out;
}

/** Reads one variant's picture as 64x64 RGB on white; a string says why an SVG could not be drawn. */
type ImageLoader = () => Promise<Float32Array | string>;

/** Finds each variant's picture in one set's package; undefined where the set has none. */
function imageLocator(set: EmojiSet, dir: string): (v: Variant) => ImageLoader | undefined {
  if (set === 'google' || set === 'twitter') {
    return (v) => (v.hasImg(set) ? () => loadImageRgb(path.join(dir, 'img', set, '64', v.image), EMOJI_IMAGE_SIZE, { fit: 'contain' }) : undefined);
  }
  if (set === 'fluent') {
    const byKey = new Map<string, string>();
    for (const f of readdirSync(path.join(dir, 'assets'))) if (f.endsWith('.webp')) byKey.set(fluentKey(f.slice(0, -5)), path.join(dir, 'assets', f));
    return (v) => {
      const file = byKey.get(fluentKey(v.unified));
      return file === undefined ? undefined : () => loadFluentRgb(file);
    };
  }
  const icons = readJson<IconifyJson>(path.join(dir, 'icons.json'));
  const byKey = new Map<string, string>();
  for (const [hex, name] of Object.entries(readJson<Record<string, string>>(path.join(packageDir(FLUENT_CHARS_PKG), 'chars.json')))) byKey.set(fluentKey(hex), name);
  return (v) => {
    const name = byKey.get(fluentKey(v.unified));
    if (name === undefined) return undefined;
    // librsvg gives up on a few of the Color set's drawings (2 of 3,139 in 1.2.7: the umbrellas).
    return () => loadImageRgb(Buffer.from(iconifySvg(icons, name, EMOJI_IMAGE_SIZE)), EMOJI_IMAGE_SIZE, { fit: 'contain' }).catch((e: Error) => e.message.split('\n').join(' '));
  };
}

/** The parts of an Iconify JSON icon set (icons.json) that drawing an icon needs. */
export interface IconifyJson {
  width?: number;
  height?: number;
  icons: Record<string, IconifyIcon>;
  aliases?: Record<string, IconifyIcon & { parent: string }>;
}

interface IconifyIcon {
  body?: string;
  left?: number;
  top?: number;
  width?: number;
  height?: number;
  hFlip?: boolean;
  vFlip?: boolean;
}

/**
 * One icon of an Iconify set as a standalone SVG document of size x size pixels. Aliases resolve
 * to their parent's body with their own flips (Fluent draws "pointing right" as a mirrored
 * "pointing left"); an unknown name throws.
 */
export function iconifySvg(set: IconifyJson, name: string, size: number): string {
  let icon: IconifyIcon | undefined = set.icons[name];
  let hFlip = false;
  let vFlip = false;
  for (let hops = 0; icon === undefined && hops < 8; hops++) {
    const alias = set.aliases?.[name];
    if (alias === undefined) break;
    hFlip = hFlip !== (alias.hFlip === true);
    vFlip = vFlip !== (alias.vFlip === true);
    name = alias.parent;
    icon = set.icons[name];
  }
  if (icon?.body === undefined) throw new Error(`icon "${name}" is not in the icon set`);
  hFlip = hFlip !== (icon.hFlip === true);
  vFlip = vFlip !== (icon.vFlip === true);
  const left = icon.left ?? 0;
  const top = icon.top ?? 0;
  const width = icon.width ?? set.width ?? 16;
  const height = icon.height ?? set.height ?? 16;
  let body = icon.body;
  if (hFlip || vFlip) {
    // Mirror about the centre of the view box.
    const tx = hFlip ? 2 * left + width : 0;
    const ty = vFlip ? 2 * top + height : 0;
    body = `<g transform="translate(${tx} ${ty}) scale(${hFlip ? -1 : 1} ${vFlip ? -1 : 1})">${body}</g>`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${size}" height="${size}" viewBox="${left} ${top} ${width} ${height}">${body}</svg>`;
}

/**
 * The key that joins a Fluent file name to an emoji.json codepoint sequence. Fluent names are
 * lowercase, with or without FE0F, and the subdivision flags (England, Scotland, Wales) join their
 * tag characters with "_" and drop the cancel tag E007F.
 */
export function fluentKey(codepoints: string): string {
  return joinKey(codepoints.replace(/_/g, '-')).replace(/-E007F$/, '');
}

/** A Fluent picture as 64x64 RGB on white: transparent margins trimmed, fitted to FLUENT_FIT, centred. */
async function loadFluentRgb(file: string): Promise<Float32Array> {
  const clear = { r: 255, g: 255, b: 255, alpha: 0 };
  const pad = (EMOJI_IMAGE_SIZE - FLUENT_FIT) / 2;
  const fitted = await sharp(file, { failOn: 'error' })
    .ensureAlpha()
    .trim()
    .resize(FLUENT_FIT, FLUENT_FIT, { fit: 'contain', background: clear, kernel: 'lanczos3' })
    .extend({ top: pad, bottom: pad, left: pad, right: pad, background: clear })
    .png()
    .toBuffer();
  return loadImageRgb(fitted, EMOJI_IMAGE_SIZE, { fit: 'contain' });
}

/** The base concepts a smoke subset keeps: pinned first, then emoji.json order. */
function chooseConcepts(variants: Variant[], limit: number | undefined): Set<string> | undefined {
  if (limit === undefined) return undefined;
  const order: string[] = [];
  const seen = new Set<string>();
  for (const v of variants) {
    const b = baseKey(v.unified);
    if (!seen.has(b)) {
      seen.add(b);
      order.push(b);
    }
  }
  const pinned = PINNED_TRAIN_CONCEPTS.filter((p) => seen.has(p));
  const rest = order.filter((b) => !PINNED_TRAIN_CONCEPTS.includes(b));
  return new Set([...pinned, ...rest].slice(0, limit));
}

function emptyCounts(): EmojiSplitCounts {
  return { images: 0, pairs: 0, concepts: 0 };
}

/** Decodes this many images at once (sharp runs them on its own threads). */
const BATCH = 16;

/** Builds DIR/<split>/<key>.png + <key>.txt and DIR/manifest.json; replaces DIR atomically. */
export async function buildEmojiDataset(options: EmojiBuildOptions): Promise<EmojiManifest> {
  const sets = options.sets ?? [...DEFAULT_EMOJI_SETS];
  if (sets.length === 0) throw new UsageError(`sets must name at least one of ${EMOJI_SETS.join(', ')}`);
  for (const s of sets) if (!EMOJI_SETS.includes(s)) throw new UsageError(`unknown emoji set "${s}": expected one of ${EMOJI_SETS.join(', ')}`);
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1)) throw new UsageError(`limit must be a positive integer, got ${options.limit}`);
  const started = Date.now();

  const metaDir = packageDir(METADATA_PKG);
  const meta = loadMetadata(metaDir);
  const setDirs = new Map(sets.map((s) => [s, packageDir(SET_INFO[s].pkg)] as const));
  // The emoji-datasource packs share one emoji.json, which also lists the emoji Fluent draws.
  const variants = listVariants(readJson<DatasourceEmoji[]>(path.join(packageDir(EMOJI_JSON_PKG), 'emoji.json')));
  const keep = chooseConcepts(variants, options.limit);
  const chosen = keep ? variants.filter((v) => keep.has(baseKey(v.unified))) : variants;

  const tasks = sets.flatMap((set) => {
    const locate = imageLocator(set, setDirs.get(set)!);
    return chosen.flatMap((v) => {
      const load = locate(v);
      return load === undefined ? [] : [{ set, v, load }];
    });
  });
  const counts = { train: emptyCounts(), 'val-images': emptyCounts(), 'val-concepts': emptyCounts(), total: emptyCounts() };
  const concepts = Object.fromEntries([...EMOJI_SPLITS, 'total'].map((s) => [s, new Set<string>()])) as Record<EmojiSplit | 'total', Set<string>>;
  const duplicatesDropped: Record<string, number> = Object.fromEntries(sets.map((s) => [s, 0]));
  const missingMetadata: string[] = [];
  const unrenderable: string[] = [];
  const progress = new Progress({ total: tasks.length, label: 'emoji', unit: 'img', quiet: options.quiet });

  let built: EmojiManifest | undefined;
  await writeDirAtomic(options.outDir, async (tmp) => {
    for (const split of EMOJI_SPLITS) await fsp.mkdir(path.join(tmp, split), { recursive: true });
    const seenPixels = new Map<EmojiSet, Set<string>>(sets.map((s) => [s, new Set<string>()]));
    for (let i = 0; i < tasks.length; i += BATCH) {
      const batch = tasks.slice(i, i + BATCH);
      const pixels = await Promise.all(batch.map(({ load }) => load()));
      const writes: Promise<void>[] = [];
      batch.forEach(({ set, v }, j) => {
        const rgb = pixels[j];
        if (typeof rgb === 'string') {
          unrenderable.push(`${set} ${v.unified}: ${rgb}`);
          return;
        }
        // Dedupe in task order, so the first of identical images is the one kept.
        const digest = sha256(floatsToRgbBytes(rgb));
        if (seenPixels.get(set)!.has(digest)) {
          duplicatesDropped[set]++;
          return;
        }
        seenPixels.get(set)!.add(digest);
        let m = meta.get(joinKey(v.unified));
        if (!m) {
          missingMetadata.push(v.unified);
          m = { label: v.name.toLowerCase(), tags: [], subgroup: 'other' };
        }
        const base = baseKey(v.unified);
        const split = emojiSplit(base, set);
        const captions = emojiCaptions(m, SET_INFO[set].style);
        const key = `${set}-${v.unified.toLowerCase()}`;
        for (const c of [counts[split], counts.total]) {
          c.images++;
          c.pairs += captions.length;
        }
        concepts[split].add(base);
        concepts.total.add(base);
        writes.push(
          (async () => {
            await fsp.writeFile(path.join(tmp, split, `${key}.png`), await encodePng(rgb, EMOJI_IMAGE_SIZE, EMOJI_IMAGE_SIZE));
            await fsp.writeFile(path.join(tmp, split, `${key}.txt`), captions.join('\n') + '\n');
          })(),
        );
      });
      await Promise.all(writes);
      progress.tick(batch.length, { dupes: String(Object.values(duplicatesDropped).reduce((a, b) => a + b, 0)) });
    }
    for (const s of [...EMOJI_SPLITS, 'total'] as const) counts[s].concepts = concepts[s].size;
    const manifest: EmojiManifest = {
      kind: 'emoji-dataset',
      formatVersion: 1,
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - started) / 100) / 10,
      imageSize: EMOJI_IMAGE_SIZE,
      sets,
      limit: options.limit ?? null,
      sources: [
        ...sets.map((s) => ({ package: SET_INFO[s].pkg, version: readJson<{ version: string }>(path.join(setDirs.get(s)!, 'package.json')).version, use: `${SET_INFO[s].use}; art: ${SET_INFO[s].art}`, licence: SET_INFO[s].artLicence })),
        ...(sets.includes('google') // the google pack, listed above, is where emoji.json comes from
          ? []
          : [{ package: EMOJI_JSON_PKG, version: readJson<{ version: string }>(path.join(packageDir(EMOJI_JSON_PKG), 'package.json')).version, use: 'emoji.json only (codepoints, names, skin tones)', licence: 'MIT' }]),
        { package: METADATA_PKG, version: readJson<{ version: string }>(path.join(metaDir, 'package.json')).version, use: 'en/data.json labels and tags, en/messages.json subgroup names', licence: 'MIT' },
      ],
      splitRule: SPLIT_RULE,
      pinnedTrainConcepts: [...PINNED_TRAIN_CONCEPTS],
      counts,
      duplicatesDropped,
      missingMetadata,
      unrenderable,
      captionsPerImage: 4,
      credits: [...EMOJI_CREDITS.filter((c) => sets.some((s) => c.includes(SET_INFO[s].pkg)) || c.includes(METADATA_PKG))],
    };
    await writeFileAtomic(path.join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    progress.finish(`emoji: ${counts.total.images} images (${counts.train.images} train, ${counts['val-images'].images} val-images, ${counts['val-concepts'].images} val-concepts) in ${manifest.buildSeconds}s`);
    built = manifest;
  });
  return built!;
}
