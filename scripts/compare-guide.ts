// `tsx scripts/compare-guide.ts [--weights weights] --judge DIR [--out docs] [--work runs/compare] [--phases guide,sample,refine,judge]`
//
// Compares three ways of making an image for a prompt, on the same weights:
//   sample: the transformer's best of its candidates (dalle-sample defaults, reranked by the
//           shipped CLIP);
//   guide:  clip-guide from random logits (defaults: n images, best by the shipped CLIP);
//   refine: clip-guide started from the transformer's best image codes (the hand-off).
// The shipped CLIP guides and reranks, so its scores are inflated for what it optimised; the
// verdict comes from a judge CLIP trained apart (another seed), which saw none of the steering:
// its cosine similarity of each image with its prompt, and its 10-way top-1 (is the image
// closer to its own prompt than to the other nine?). Each (method, prompt) result is cached as a
// PNG + JSON under --work, so an interrupted run resumes. Writes <out>/guide-vs-sample.{md,json,png}.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { contactSheet, loadImageRgb, selectBackend, writeFileAtomic } from '@dalle/core';
import { clipGuide, loadGuideModels, GUIDE_DEFAULTS } from '@dalle/guide';
import { clipScorerAdapter, generate, loadPipeline, SAMPLER_DEFAULTS } from '@dalle/sampler';

const PROMPTS = ['a red apple', 'a smiling face', 'a cat', 'an avocado', 'a dog', 'a house', 'a car', 'a red heart', 'a rocket', 'a pizza'];
const METHODS = ['sample', 'guide', 'refine'] as const;
type Method = (typeof METHODS)[number];
const REFINE_STEPS = 50; // refinement starts from a decent grid, so it needs fewer steps than a random start

const { values } = parseArgs({
  options: { weights: { type: 'string', default: 'weights' }, judge: { type: 'string' }, phases: { type: 'string', default: 'guide,sample,refine,judge' }, out: { type: 'string', default: 'docs' }, work: { type: 'string', default: 'runs/compare' }, seed: { type: 'string', default: '0' } },
});
const phases = new Set(values.phases!.split(','));
if (phases.has('judge') && !values.judge) throw new Error('--judge DIR is required: a CLIP folder (transformers.js layout) trained apart from the shipped one');
const weights = values.weights!;
const seed = Number(values.seed);
await selectBackend();

interface Cached {
  prompt: string;
  method: Method;
  /** Score by the CLIP that picked or steered the image (the shipped one). */
  steeringScore: number;
  seconds: number;
  codes: number[];
}

const fileOf = (method: Method, i: number, ext: string) => path.join(values.work!, method, `${String(i).padStart(2, '0')}.${ext}`);

async function save(method: Method, i: number, pixels: Float32Array, size: number, info: Cached): Promise<void> {
  mkdirSync(path.dirname(fileOf(method, i, 'png')), { recursive: true });
  await writeFileAtomic(fileOf(method, i, 'png'), await contactSheet([pixels], size, { gap: 0 }));
  await writeFileAtomic(fileOf(method, i, 'json'), JSON.stringify(info, null, 2) + '\n');
}

const done = (method: Method, i: number) => existsSync(fileOf(method, i, 'json'));

// clip-guide from random logits (needs no transformer), then from the transformer's best codes.
async function runGuide(method: 'guide' | 'refine'): Promise<void> {
  if (!phases.has(method) || PROMPTS.every((_, i) => done(method, i))) return;
  const models = await loadGuideModels(weights);
  for (const [i, prompt] of PROMPTS.entries()) {
    if (done(method, i)) continue;
    {
      const t0 = performance.now();
      const init = method === 'refine' ? (JSON.parse(readFileSync(fileOf('sample', i, 'json'), 'utf8')) as Cached).codes : undefined;
      const r = await clipGuide(prompt, { dvae: models.dvae, clip: models.clip, tokenizer: models.tokenizer, seed, ...(init ? { initCodes: init, n: 1, steps: REFINE_STEPS } : {}) });
      const best = r.scores.indexOf(Math.max(...r.scores));
      const size = models.dvae.imageSize;
      const pixels = tf.tidy(() => tf.slice(r.images, [best, 0, 0, 0], [1, size, size, 3]).dataSync() as Float32Array);
      const codes = tf.tidy(() => [...(tf.slice(r.codes, [best, 0], [1, -1]).dataSync() as Int32Array)]);
      tf.dispose([r.images, r.codes]);
      await save(method, i, pixels, size, { prompt, method, steeringScore: r.scores[best], seconds: (performance.now() - t0) / 1000, codes });
      console.log(`${method.padEnd(7)} ${prompt}: shipped-CLIP ${r.scores[best].toFixed(3)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
  }
  models.dispose();
}

await runGuide('guide');

// The transformer's best of its candidates.
if (phases.has('sample') && PROMPTS.some((_, i) => !done('sample', i))) {
  const pipeline = await loadPipeline(weights);
  for (const [i, prompt] of PROMPTS.entries()) {
    if (done('sample', i)) continue;
    const t0 = performance.now();
    const r = await generate(prompt, { pipeline, seed, n: 1 });
    const best = r.images[0];
    await save('sample', i, best.pixels, Math.round(Math.sqrt(best.pixels.length / 3)), { prompt, method: 'sample', steeringScore: best.clipScore ?? NaN, seconds: (performance.now() - t0) / 1000, codes: [...best.codes] });
    console.log(`sample  ${prompt}: shipped-CLIP ${best.clipScore?.toFixed(3)}`);
  }
  await pipeline.dispose();
}

await runGuide('refine');
if (!phases.has('judge')) process.exit(0);

// The judge: cosine similarity of every image with every prompt.
const judge = await clipScorerAdapter(values.judge!, { allowRemote: false });
const size = 64;
const rows: { method: Method; prompt: string; judge: number; top1: boolean; steering: number; seconds: number }[] = [];
const sheet: Float32Array[] = [];
for (const method of METHODS) {
  const infos = PROMPTS.map((_, i) => JSON.parse(readFileSync(fileOf(method, i, 'json'), 'utf8')) as Cached);
  const pixels = await Promise.all(PROMPTS.map((_, i) => loadImageRgb(fileOf(method, i, 'png'), size)));
  sheet.push(...pixels);
  const batch = tf.tensor4d(Float32Array.from(pixels.flatMap((p) => [...p])), [PROMPTS.length, size, size, 3]);
  const sims: number[][] = []; // [prompt j][image i]
  for (const prompt of PROMPTS) sims.push(await judge.score(prompt, batch));
  batch.dispose();
  PROMPTS.forEach((prompt, i) => {
    const own = sims[i][i];
    const top1 = PROMPTS.every((_, j) => j === i || sims[j][i] < own);
    rows.push({ method, prompt, judge: own, top1, steering: infos[i].steeringScore, seconds: infos[i].seconds });
  });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const summary = METHODS.map((method) => {
  const r = rows.filter((x) => x.method === method);
  return { method, judgeMean: mean(r.map((x) => x.judge)), top1: r.filter((x) => x.top1).length, steeringMean: mean(r.map((x) => x.steering)), secondsMean: mean(r.map((x) => x.seconds)) };
});
const wins = PROMPTS.map((p) => {
  const by = (m: Method) => rows.find((x) => x.method === m && x.prompt === p)!.judge;
  return METHODS.reduce((best, m) => (by(m) > by(best) ? m : best), METHODS[0]);
});

mkdirSync(values.out!, { recursive: true });
await writeFileAtomic(path.join(values.out!, 'guide-vs-sample.png'), await contactSheet(sheet, size, { cols: PROMPTS.length, scale: 2 }));
await writeFileAtomic(path.join(values.out!, 'guide-vs-sample.json'), JSON.stringify({ weights, judge: values.judge, seed, prompts: PROMPTS, settings: { sampler: SAMPLER_DEFAULTS, guide: GUIDE_DEFAULTS, refineSteps: REFINE_STEPS }, summary, rows }, null, 2) + '\n');
const f = (x: number) => x.toFixed(3);
const md = [
  '# clip-guide vs the transformer, judged by a CLIP that steered neither',
  '',
  `Weights: \`${weights}\`. Judge: \`${values.judge}\` (same architecture and data as the shipped CLIP, another seed). Seed ${seed}.`,
  `- **sample**: \`dalle-sample\` defaults: best of ${SAMPLER_DEFAULTS.numCandidates} candidates by the shipped CLIP.`,
  `- **guide**: \`clip-guide\` defaults: ${GUIDE_DEFAULTS.steps} steps, best of ${GUIDE_DEFAULTS.n} by the shipped CLIP, ${GUIDE_DEFAULTS.cutouts} cutouts.`,
  `- **refine**: \`clip-guide\` for ${REFINE_STEPS} steps started from the sample's codes (\`--init\` with the sample's image).`,
  '',
  'Contact sheet (`guide-vs-sample.png`): rows sample, guide, refine; columns the prompts in the order below.',
  '',
  '| method | judge cosine (mean) | judge 10-way top-1 | shipped-CLIP cosine (mean, what was optimised) | seconds per prompt (mean) |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...summary.map((s) => `| ${s.method} | ${f(s.judgeMean)} | ${s.top1}/10 | ${f(s.steeringMean)} | ${s.secondsMean.toFixed(1)} |`),
  '',
  '| prompt | ' + METHODS.map((m) => `${m} judge / shipped`).join(' | ') + ' | best by judge |',
  '| --- | ' + METHODS.map(() => '---:').join(' | ') + ' | --- |',
  ...PROMPTS.map((p, i) => {
    const cells = METHODS.map((m) => {
      const r = rows.find((x) => x.method === m && x.prompt === p)!;
      return `${f(r.judge)}${r.top1 ? ' ✓' : ''} / ${f(r.steering)}`;
    });
    return `| ${p} | ${cells.join(' | ')} | ${wins[i]} |`;
  }),
  '',
  '✓: the judge ranks the image closer to its own prompt than to the other nine.',
  '',
];
await writeFileAtomic(path.join(values.out!, 'guide-vs-sample.md'), md.join('\n'));
console.log(md.join('\n'));
