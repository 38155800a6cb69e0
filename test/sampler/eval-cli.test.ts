// dalle-eval end to end on the tiny weights folder (random dVAE, transformer and CLIP) and a
// folder of six captioned images: every report field present and finite, eval.md with the tables
// and the sheet's prompts, contact-sheet.png at 2x; bad input exits 2 before any model loads.
import { encodePng, UsageError } from '@dalle/core';
import { checkEvalInputs, displayPath, type EvalPhase } from '@dalle/sampler';
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { CLI } from '../helpers/timeouts.ts';
import { okRun, runBin, runNamed, type CliRun } from '../e2e/cli.ts';
import { FIXTURE_CAPTIONS, makeTinyWeights, type TinyWeights } from './fixture.ts';

const BIN = 'packages/sampler/bin/dalle-eval.js';
const SHEET_PROMPTS = ['a red heart', 'a blue star', 'a cat'];

/** Every leaf of the report: numbers must be finite, nothing may be null or undefined. */
function leaves(value: unknown, at = '$'): [string, unknown][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, `${at}[${i}]`));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => leaves(v, `${at}.${k}`));
  return [[at, value]];
}

describe('sampler/dalle-eval (CLI)', function () {
  this.timeout(CLI);
  let root: string;
  let weights: TinyWeights;
  let images: string;
  const runs: Record<string, CliRun> = {};
  const out = (name: string) => path.join(root, name);

  before(async function () {
    this.timeout(CLI);
    root = mkdtempSync(path.join(tmpdir(), 'dalle-eval-'));
    weights = await makeTinyWeights({ dir: path.join(root, 'weights'), clip: true });
    images = path.join(root, 'held-out');
    mkdirSync(images);
    const s = weights.imageSize;
    for (let k = 0; k < FIXTURE_CAPTIONS.length; k++) {
      const pixels = Float32Array.from({ length: s * s * 3 }, (_, i) => ((i * (k + 3) * 7919) % 101) / 100);
      writeFileSync(path.join(images, `img-${k}.png`), await encodePng(pixels, s, s));
      writeFileSync(path.join(images, `img-${k}.txt`), `${FIXTURE_CAPTIONS[k]}\n${FIXTURE_CAPTIONS[(k + 1) % FIXTURE_CAPTIONS.length]} too\n`);
    }
    const common = ['--weights', weights.dir, '--images', images, '--candidates', '2', '--per-prompt', '2', '--batch-size', '2', ...SHEET_PROMPTS.flatMap((p) => ['--sheet-prompt', p])];
    const jobs: Record<string, () => Promise<CliRun>> = {
      full: () => runBin(BIN, [...common, '--prompts', '4', '--seed', '3', '--out', out('full'), '--json']),
      // Run from the folder that holds the weights: the report names them relatively.
      again: () => runBin(BIN, [...common, '--seed', '3', '--skip', 'dvae,transformer,clip,generation', '--out', out('again')], { cwd: root }),
      noWeights: () => runBin(BIN, ['--weights', path.join(root, 'nowhere'), '--images', images, '--out', out('x')]),
      zeroPrompts: () => runBin(BIN, ['--weights', weights.dir, '--images', images, '--prompts', '0', '--out', out('y')]),
    };
    await runNamed(jobs, runs);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const ok = (name: string) => okRun(runs, name);

  it('writes eval.json with every field present and finite, and --json prints it', () => {
    const r = ok('full');
    const json = JSON.parse(readFileSync(path.join(out('full'), 'eval.json'), 'utf8'));
    assert.deepEqual(JSON.parse(r.stdout), json);
    for (const [at, v] of leaves(json)) {
      assert.ok(v !== null && v !== undefined, `${at} is ${v}`);
      if (typeof v === 'number') assert.ok(Number.isFinite(v), `${at} = ${v}`);
    }
    assert.equal(json.kind, 'dalle-eval');
    assert.equal(json.heldOut.images, FIXTURE_CAPTIONS.length);
    const d = json.dvae;
    assert.equal(d.images, FIXTURE_CAPTIONS.length);
    assert.equal(d.codebookSize, weights.codebookSize);
    assert.ok(d.perplexity >= 1 && d.perplexity <= Math.min(d.codesUsed, weights.codebookSize) + 1e-9, `perplexity ${d.perplexity} within [1, codes used]`);
    assert.ok(Math.abs(d.perplexityPercentOfK - (100 * d.perplexity) / d.codebookSize) < 1e-9);
    const t = json.transformer;
    assert.equal(t.records, FIXTURE_CAPTIONS.length);
    assert.match(t.source, /encoded here/);
    for (const v of [t.trueCaptions.text, t.trueCaptions.image, t.shuffledCaptions.text, t.shuffledCaptions.image]) assert.ok(v > 0, 'losses are positive');
    assert.ok(Math.abs(t.conditionalGain - (1 - t.trueCaptions.image / t.shuffledCaptions.image)) < 1e-12);
    // Shuffling only re-pairs the same captions: their own (text) loss cannot change.
    assert.ok(Math.abs(t.trueCaptions.text - t.shuffledCaptions.text) < 1e-4, `${t.trueCaptions.text} vs ${t.shuffledCaptions.text}`);
    const c = json.clip;
    assert.equal(c.images, FIXTURE_CAPTIONS.length);
    assert.equal(c.groups, 1);
    assert.equal(c.groupSize, FIXTURE_CAPTIONS.length);
    for (const rk of [c.imageToText, c.textToImage]) {
      assert.ok(rk.r1 >= 0 && rk.r1 <= rk.r5 && rk.r5 <= 1, 'R@1 <= R@5 within [0, 1]');
    }
    const g = json.generation;
    assert.equal(g.prompts, 4);
    assert.equal(g.among, 4);
    assert.equal(g.numCandidates, 2);
    assert.ok(Math.abs(g.rPrecision - g.correct / 4) < 1e-12);
    assert.deepEqual(json.sheet.prompts, SHEET_PROMPTS);
    for (const phase of ['load', 'read', 'dvae', 'transformer', 'clip', 'generation', 'sheet']) assert.equal(typeof json.timingsMs[phase], 'number', phase);
    assert.match(r.stderr, /generation .*\d+\/\d+/, 'a progress bar per phase');
    assert.match(r.stderr, /wrote contact-sheet.png, eval.md, eval.json to /);
  });

  it('writes eval.md with a table per phase and the sheet\'s prompts', () => {
    ok('full');
    const md = readFileSync(path.join(out('full'), 'eval.md'), 'utf8');
    for (const heading of ['## dVAE', '## Transformer', '## CLIP retrieval among 6', '## Generation R-precision among 4', '## Contact sheet', '## Phase wall times']) assert.ok(md.includes(heading), heading);
    assert.match(md, /\| conditional gain \(1 - true \/ shuffled image loss\) \| -?\d+\.\d+%/);
    SHEET_PROMPTS.forEach((p, i) => assert.ok(md.includes(`${i + 1}. ${p}`), p));
  });

  it('draws the contact sheet: one row per prompt, --per-prompt columns, upscaled x2', async () => {
    ok('full');
    const meta = await sharp(path.join(out('full'), 'contact-sheet.png')).metadata();
    const s = weights.imageSize;
    const gap = 2;
    assert.equal(meta.width, 2 * (2 * s + 3 * gap));
    assert.equal(meta.height, 2 * (SHEET_PROMPTS.length * s + (SHEET_PROMPTS.length + 1) * gap));
  });

  it('is reproducible (same seed, same sheet bytes) and --skip leaves phases out, reading no images', () => {
    ok('again');
    const b = JSON.parse(readFileSync(path.join(out('again'), 'eval.json'), 'utf8'));
    assert.deepEqual(readFileSync(path.join(out('again'), 'contact-sheet.png')), readFileSync(path.join(out('full'), 'contact-sheet.png')));
    for (const phase of ['dvae', 'transformer', 'clip', 'generation'] as const) {
      assert.equal(b[phase], null, phase);
      assert.equal(b.timingsMs[phase], undefined, phase);
    }
    assert.equal(b.heldOut, null, 'the sheet alone needs no held-out images');
    assert.deepEqual(b.settings.skip, ['dvae', 'transformer', 'clip', 'generation']);
  });

  it('checkEvalInputs refuses bad phases, missing images or tokens, and a missing CLIP part, naming the fix', async () => {
    const base = { weights: weights.dir, images };
    await assert.rejects(checkEvalInputs({ ...base, skip: ['bogus' as EvalPhase] }), /unknown phase "bogus"/);
    await assert.rejects(checkEvalInputs({ ...base, images: path.join(root, 'no-such-images') }), /data not found: ".*no-such-images"/);
    await assert.rejects(checkEvalInputs({ ...base, tokens: path.join(root, 'no-tokens') }), /no token dataset at .*no-tokens/);
    // Only the sheet (and a transformer fed by --tokens) runs without held-out images.
    await checkEvalInputs({ ...base, images: path.join(root, 'no-such-images'), skip: ['dvae', 'transformer', 'clip', 'generation'] });
    const noClip = await makeTinyWeights({ dir: path.join(root, 'weights-no-clip') });
    await assert.rejects(checkEvalInputs({ weights: noClip.dir, images }), (err: Error) => err instanceof UsageError && /no CLIP model at .*clip: .*--skip clip,generation/.test(err.message));
    const ok = await checkEvalInputs({ weights: noClip.dir, images, skip: ['clip', 'generation'] });
    assert.equal(ok.clipDir, null);
  });

  it('reports name paths inside the working folder relatively, others as given', () => {
    const cwd = path.join(root, 'repo');
    assert.equal(displayPath(path.join(cwd, 'weights'), cwd), 'weights');
    assert.equal(displayPath(path.join(cwd, 'data', 'val'), cwd), path.join('data', 'val'));
    assert.equal(displayPath(cwd, cwd), '.');
    assert.equal(displayPath(path.join(root, 'elsewhere'), cwd), path.join(root, 'elsewhere'));
    assert.equal(displayPath('relative/as-given', cwd), 'relative/as-given');
    assert.equal(displayPath(`${path.join(cwd, 'a.tar')},${path.join(root, 'b.tar')}`, cwd), `a.tar,${path.join(root, 'b.tar')}`);
    const report = (name: string) => JSON.parse(readFileSync(path.join(out(name), 'eval.json'), 'utf8'));
    assert.equal(report('full').weights, weights.dir, 'run from the repository: the tmp folder stays absolute');
    assert.equal(report('again').weights, 'weights', 'run from the folder that holds it');
    assert.match(readFileSync(path.join(out('again'), 'eval.md'), 'utf8'), /^- weights: `weights`$/m);
  });

  it('bad input exits 2 with one line saying what was expected, before any model loads', () => {
    const cases: [string, RegExp][] = [
      ['noWeights', /weights folder .*nowhere does not exist/],
      ['zeroPrompts', /--prompts must be an integer in \[1, \d+\], got "0"/],
    ];
    for (const [name, message] of cases) {
      const r = runs[name];
      assert.equal(r.code, 2, `${name}: exit ${r.code}; stderr:\n${r.stderr}`);
      assert.match(r.stderr, message, name);
      assert.doesNotMatch(r.stderr, /tests run on backend|backend:/i, `${name} failed before choosing a backend`);
    }
    assert.ok(!existsSync(out('x')) && !existsSync(out('y')), 'nothing written');
  });
});
