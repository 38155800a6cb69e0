// dalle-eval's output folder: eval.json (the report as is), eval.md (one Markdown table per phase,
// the sheet's prompts) and contact-sheet.png, each written atomically.
import { UsageError, writeFileAtomic } from '@dalle/core';
import { constants as fsc, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { EvalReport, EvalResult } from './run-eval.ts';

export const EVAL_JSON_FILE = 'eval.json';
export const EVAL_MD_FILE = 'eval.md';

const pct = (x: number, digits = 1) => `${(100 * x).toFixed(digits)}%`;
const num = (x: number, digits = 3) => x.toFixed(digits);

function table(rows: [string, string][]): string[] {
  return ['| metric | value |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`)];
}

/** eval.md: what was measured, on what, with which settings, one table per phase. */
export function evalMarkdown(r: EvalReport): string {
  const out: string[] = [`# dalle-eval: ${r.manifest.name ?? path.basename(r.weights)}${r.manifest.version ? ` ${r.manifest.version}` : ''}`, ''];
  out.push(`- weights: \`${r.weights}\``);
  if (r.heldOut) out.push(`- held-out images: \`${r.heldOut.spec}\`, ${r.heldOut.images} read${r.heldOut.skipped ? `, ${r.heldOut.skipped} skipped` : ''}${r.heldOut.limit !== 'all' ? ` (--limit ${r.heldOut.limit})` : ''}`);
  const s = r.settings;
  out.push(`- sampler: top-k ${s.topK}, top-p ${s.topP}, temperature ${s.temperature}, cond-scale ${s.condScale}, seed ${s.seed}, candidates ${s.numCandidates}, batch ${s.batchSize}; backend ${r.backend}`);
  if (s.skip.length) out.push(`- skipped phases: ${s.skip.join(', ')}`);
  if (r.dvae) {
    const d = r.dvae;
    out.push('', `## dVAE (${d.images} images, hard codes)`, '');
    out.push(...table([
      ['PSNR of decode(encode(x))', `${num(d.psnr, 2)} dB`],
      ['code perplexity', `${num(d.perplexity, 1)} of K = ${d.codebookSize} (${num(d.perplexityPercentOfK, 1)}%)`],
      ['codes used', `${d.codesUsed} of ${d.codebookSize}`],
    ]));
  }
  if (r.transformer) {
    const t = r.transformer;
    out.push('', `## Transformer (${t.records} records, nats per token)`, '', `Records: ${t.source}. Shuffled: captions deranged among the records (seed ${t.shuffleSeed}).`, '');
    out.push(...table([
      ['text loss, true captions', num(t.trueCaptions.text, 4)],
      ['image loss, true captions', num(t.trueCaptions.image, 4)],
      ['text loss, shuffled captions', num(t.shuffledCaptions.text, 4)],
      ['image loss, shuffled captions', num(t.shuffledCaptions.image, 4)],
      ['conditional gain (1 - true / shuffled image loss)', pct(t.conditionalGain, 2)],
    ]));
  }
  if (r.clip) {
    const c = r.clip;
    out.push('', `## CLIP retrieval among ${c.groupSize}`, '', `Protocol: ${c.protocol}.`, '');
    out.push(...table([
      ['image -> text R@1', pct(c.imageToText.r1)],
      ['image -> text R@5', pct(c.imageToText.r5)],
      ['text -> image R@1', pct(c.textToImage.r1)],
      ['text -> image R@5', pct(c.textToImage.r5)],
    ]));
  }
  if (r.generation) {
    const g = r.generation;
    out.push('', `## Generation R-precision among ${g.among}`, '', `Protocol: ${g.protocol}; best of ${g.numCandidates} candidates by CLIP per caption; an image counts when CLIP ranks its own caption first among the ${g.among}.`, '');
    out.push(...table([
      ['R-precision', `${pct(g.rPrecision)} (${g.correct} / ${g.prompts})`],
      ['mean CLIP score of the kept images', num(g.meanClipScore, 4)],
    ]));
  }
  if (r.sheet) {
    const sh = r.sheet;
    out.push('', `## Contact sheet`, '', `![contact sheet](${sh.file})`, '', `One row per prompt, ${sh.perPrompt} images each (best of ${sh.numCandidates}), upscaled x${sh.scale}:`, '');
    sh.prompts.forEach((p, i) => out.push(`${i + 1}. ${p}`));
  }
  out.push('', '## Phase wall times', '', '| phase | seconds |', '| --- | --- |', ...Object.entries(r.timingsMs).map(([k, v]) => `| ${k} | ${(v / 1000).toFixed(1)} |`));
  return out.join('\n') + '\n';
}

/** Writes eval.json, eval.md and (when made) contact-sheet.png into `dir`, each atomically. */
export async function writeEvalFolder(dir: string, result: EvalResult): Promise<string[]> {
  await fsp.mkdir(dir, { recursive: true });
  const files: string[] = [];
  if (result.sheetPng && result.report.sheet) {
    await writeFileAtomic(path.join(dir, result.report.sheet.file), result.sheetPng);
    files.push(result.report.sheet.file);
  }
  await writeFileAtomic(path.join(dir, EVAL_MD_FILE), evalMarkdown(result.report));
  await writeFileAtomic(path.join(dir, EVAL_JSON_FILE), JSON.stringify(result.report, null, 2) + '\n');
  files.push(EVAL_MD_FILE, EVAL_JSON_FILE);
  return files;
}

/** Before any model loads: `dir` must be a folder or creatable (only eval's own files are replaced in it). */
export async function checkEvalOutFolder(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
    await fsp.access(dir, fsc.W_OK);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(e.code === 'EEXIST' || e.code === 'ENOTDIR' ? `--out ${dir} exists and is not a folder` : `cannot write to --out ${dir}: ${e.code ?? e.message.split('\n')[0]}`);
  }
}
