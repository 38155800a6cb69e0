// Zero-shot classification and text-to-image search over image files with a CLIP scorer: the
// library side of clip-classify and clip-search (files in, ranked plain records out).
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { loadImageRgb, UsageError } from '@dalle/core';
import { IMAGE_EXTENSIONS } from '@dalle/data';
import type { ClipScorer, HwcImage } from './clip-scorer.ts';

export interface LabelProbability {
  label: string;
  probability: number;
}

export interface SearchHit {
  file: string;
  /** Cosine similarity with the prompt. */
  score: number;
}

/** Image files directly inside `dir` (by extension), sorted by name. */
export async function listImages(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    throw new UsageError(`cannot read the image folder ${dir}`);
  }
  const exts = new Set<string>(IMAGE_EXTENSIONS);
  const files = names.filter((n) => exts.has(path.extname(n).slice(1).toLowerCase())).sort().map((n) => path.join(dir, n));
  if (files.length === 0) throw new UsageError(`no images (.${[...exts].join(', .')}) in ${dir}`);
  return files;
}

async function loadForScorer(file: string, size: number): Promise<HwcImage> {
  try {
    return { data: await loadImageRgb(file, size), width: size, height: size };
  } catch (err) {
    throw new UsageError(`cannot read image ${file}: ${(err as Error).message}`);
  }
}

/** Splits "a cat,a dog" into trimmed, non-empty labels. */
export function parseLabels(text: string): string[] {
  const labels = text.split(',').map((l) => l.trim()).filter(Boolean);
  if (labels.length < 2) throw new UsageError(`--labels needs at least 2 comma-separated labels, got ${JSON.stringify(text)}`);
  return labels;
}

/** Per file, every label's probability (softmax of scaled similarities), most likely first. */
export async function classifyImages(scorer: ClipScorer, files: string[], labels: string[], onProgress?: (done: number) => void): Promise<{ file: string; labels: LabelProbability[] }[]> {
  const out: { file: string; labels: LabelProbability[] }[] = [];
  const chunk = 16;
  for (let i = 0; i < files.length; i += chunk) {
    const batch = files.slice(i, i + chunk);
    const images = await Promise.all(batch.map((f) => loadForScorer(f, scorer.imageSize)));
    const probs = await scorer.classify(images, labels);
    batch.forEach((file, b) => out.push({ file, labels: labels.map((label, j) => ({ label, probability: probs[b][j] })).sort((x, y) => y.probability - x.probability) }));
    onProgress?.(batch.length);
  }
  return out;
}

/** The `k` files most similar to `prompt`, best first (ties keep file order). */
export async function searchImages(scorer: ClipScorer, files: string[], prompt: string, k: number, onProgress?: (done: number) => void): Promise<SearchHit[]> {
  const hits: SearchHit[] = [];
  const chunk = 32;
  for (let i = 0; i < files.length; i += chunk) {
    const batch = files.slice(i, i + chunk);
    const images = await Promise.all(batch.map((f) => loadForScorer(f, scorer.imageSize)));
    const scores = await scorer.score(prompt, images);
    batch.forEach((file, b) => hits.push({ file, score: scores[b] }));
    onProgress?.(batch.length);
  }
  return hits
    .map((h, i) => ({ h, i }))
    .sort((a, b) => b.h.score - a.h.score || a.i - b.i)
    .slice(0, k)
    .map(({ h }) => h);
}
