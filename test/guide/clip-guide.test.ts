import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fsp, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { encodePng, Rng, UsageError } from '@dalle/core';
import { checkOutputFolder, codesOfImageFile, loadGuideModels } from '@dalle/guide';
import { CLI } from '../helpers/timeouts.ts';
import { makeTinyWeights } from './fixtures.ts';

const BIN = path.resolve('packages/guide/bin/clip-guide.js');

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, DALLE_BACKEND: 'cpu' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Results {
  prompt: string;
  settings: { steps: number; n: number; seed: number; init: string | null; gridSize: number };
  images: { file: string; rank: number; index: number; seed: number; clipScore: number; codes: number[] }[];
  stepScores: number[];
}

describe('clip-guide command', function () {
  this.timeout(CLI);
  let root: string;
  let weights: string;
  before(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'clip-guide-cli-'));
    weights = await makeTinyWeights(3);
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(weights, { recursive: true, force: true });
  });

  it('bad input exits 2 with a message saying what was expected', () => {
    const cases: [string[], RegExp][] = [
      [['   ', '--weights', weights], /prompt is empty/],
      [['a red heart', '--steps', '0'], /--steps must be an integer in \[1, /],
      [['a red heart', '-n', '0'], /-n must be an integer in \[1, /],
      [['a red heart', '--lr', '0'], /--lr must be a number in \(0, /],
      [['a red heart', '--weights', path.join(root, 'missing'), '--out', path.join(root, 'o-missing')], /weights folder .*missing does not exist/],
    ];
    for (const [args, message] of cases) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
      assert.match(r.stderr, message);
    }
    assert.ok(!existsSync(path.join(root, 'o-missing')), 'no output folder after a usage error');
  });

  it('missing CLIP, unreadable --init image and a busy --out are usage errors (library side of the command)', async () => {
    await assert.rejects(loadGuideModels(weights, { clipDir: path.join(root, 'no-clip') }), (e: Error) => e instanceof UsageError && /no CLIP at .*no-clip/.test(e.message));
    await assert.rejects(loadGuideModels(path.join(root, 'missing')), (e: Error) => e instanceof UsageError && /does not exist/.test(e.message));
    const { loadDvae } = await import('@dalle/dvae');
    const dvae = await loadDvae(path.join(weights, 'dvae'));
    await assert.rejects(codesOfImageFile(dvae, path.join(root, 'nope.png')), (e: Error) => e instanceof UsageError && /cannot read the --init image/.test(e.message));
    dvae.dispose();
    writeFileSync(path.join(root, 'busy-file'), 'x');
    await assert.rejects(checkOutputFolder(root), /already holds other files/);
  });

  it('loads the weights folder: dVAE, CLIP and the tokenizer from tokenizer/', async () => {
    const models = await loadGuideModels(weights);
    try {
      assert.equal(models.dvae.imageSize, 16);
      assert.equal(models.sources.tokenizer, path.join(weights, 'tokenizer'));
      assert.equal(models.tokenizer.vocabSize, models.clip.config.textVocabSize);
    } finally {
      models.dispose();
    }
  });

  it('--init IMAGE: writes 01.png … best first, grid.png, results.json and frames, starting from the image codes', async () => {
    const rng = new Rng(2);
    const pixels = Float32Array.from({ length: 16 * 16 * 3 }, (_, i) => ((i / 48) % 16 < 8 ? 0.8 : 0.2) + 0.1 * rng.next());
    const file = path.join(root, 'init.png');
    await fsp.writeFile(file, await encodePng(pixels, 16, 16));
    const out = path.join(root, 'run');
    // a learning rate this small cannot overturn the one-hot start in 4 steps: the codes stay the image's
    const r = run(['a red heart', '--weights', weights, '--init', file, '--steps', '4', '--lr', '0.001', '-n', '3', '--cutouts', '2', '--seed', '5', '--frames', '2', '--out', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(out).sort(), ['01.png', '02.png', '03.png', 'frames', 'grid.png', 'results.json']);
    assert.deepEqual(readdirSync(path.join(out, 'frames')).sort(), ['step-0000.png', 'step-0002.png', 'step-0004.png']);
    const json = JSON.parse(await fsp.readFile(path.join(out, 'results.json'), 'utf8')) as Results;
    assert.deepEqual(JSON.parse(r.stdout), json);
    assert.equal(json.prompt, 'a red heart');
    assert.equal(json.settings.steps, 4);
    assert.equal(json.settings.init, file);
    assert.equal(json.stepScores.length, 4);
    assert.deepEqual(json.images.map((i) => i.file), ['01.png', '02.png', '03.png']);
    assert.deepEqual(json.images.map((i) => i.index).sort(), [0, 1, 2]);
    for (let k = 1; k < 3; k++) assert.ok(json.images[k - 1].clipScore >= json.images[k].clipScore, 'best first');
    const { loadDvae } = await import('@dalle/dvae');
    const dvae = await loadDvae(path.join(weights, 'dvae'));
    const codes = Array.from(await codesOfImageFile(dvae, file));
    dvae.dispose();
    for (const img of json.images) {
      assert.equal(img.seed, 5);
      assert.equal(img.codes.length, json.settings.gridSize ** 2);
      assert.deepEqual(img.codes, codes);
    }
    const meta = await sharp(path.join(out, '01.png')).metadata();
    assert.equal(meta.width, 16);
  });
});
