import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '@dalle/core';
import { openTokenDataset, TokenDatasetWriter, type TokenDatasetInfo } from '@dalle/data';
import { RUN_LOCK_FILE, createTransformer, disposeTransformer, evaluateLoss, imageSeqLen, saveTransformer, loadCheckpoint, loadTransformer, runTraining, transformerPreset } from '@dalle/transformer';
import { CLI, TRAINING } from '../helpers/timeouts.ts';
import { memoryDataset } from './fixtures.ts';

const tiny = transformerPreset('tiny');
const info: TokenDatasetInfo = { textSeqLen: tiny.textSeqLen, gridSize: tiny.gridSize, codebookSize: tiny.imageVocabSize, textVocabSize: tiny.textVocabSize, dvaeId: 'dvae-a', tokenizerId: 'tok-a' };

async function writeDataset(dir: string, count: number, seed: number, fields: Partial<TokenDatasetInfo> = {}, groups?: string[], codeMap: (code: number) => number = (c) => c): Promise<string> {
  const full = { ...info, ...fields };
  const writer = await TokenDatasetWriter.create(dir, full, { groupBy: groups ? 'image' : undefined });
  const cfg = { ...tiny, textSeqLen: full.textSeqLen, gridSize: full.gridSize };
  const src = memoryDataset(cfg, count, seed);
  for (let i = 0; i < count; i++) {
    const { text, codes } = src.batch([i]);
    await writer.add(text, codes.map(codeMap), groups?.[i]);
  }
  await writer.close();
  return dir;
}

describe('dalle-train run (runTraining)', function () {
  this.timeout(TRAINING);
  let dir: string;
  let trainA: string;
  let trainB: string;
  let val: string;
  let initDir: string;
  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'transformer-run-'));
    trainA = await writeDataset(path.join(dir, 'train-a'), 6, 1);
    trainB = await writeDataset(path.join(dir, 'train-b'), 4, 2);
    val = await writeDataset(path.join(dir, 'val'), 4, 3);
    initDir = path.join(dir, 'init');
    const model = createTransformer(tiny, 2);
    await saveTransformer(initDir, model, { dvaeId: 'dvae-a', tokenizerId: 'tok-a', trainedSteps: 40, initSteps: 100, val: { text: 9, image: 9 } });
    disposeTransformer(model);
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('trains on two datasets, validates, checkpoints, logs, exports; --resume extends the run', async () => {
    const runDir = path.join(dir, 'runs', 'r1');
    const lines: string[] = [];
    const res = await runTraining({ data: [trainA, trainB], val, runDir, preset: 'tiny', train: { steps: 4, batchSize: 4, checkpointEvery: 2, logEvery: 2, valEvery: 2, warmupSteps: 1 }, exportDir: path.join(dir, 'export'), quiet: true, log: (l) => lines.push(l) });
    assert.equal(res.train.reason, 'done');
    assert.equal(res.train.step, 4);
    assert.ok(res.val && Number.isFinite(res.val.text) && Number.isFinite(res.val.image));
    assert.ok(res.gain && Number.isFinite(res.gain.gain));
    assert.ok(lines.some((l) => /data: 10 sequences/.test(l)));
    assert.ok(lines.some((l) => /true captions .* shuffled captions/.test(l)));
    const ckpts = await fsp.readdir(path.join(runDir, 'checkpoints'));
    assert.deepEqual(ckpts.sort(), ['step-2', 'step-4']);
    const log = (await fsp.readFile(path.join(runDir, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(log.filter((e) => e.loss !== undefined).map((e) => e.step), [2, 4]);
    assert.ok(log.some((e) => e.val && e.step === 2));
    assert.ok(log.every((e) => e.tokensPerSec === undefined || e.tokensPerSec > 0));
    const exported = await loadTransformer(path.join(dir, 'export'));
    assert.equal(exported.info.dvaeId, 'dvae-a');
    assert.equal(exported.info.tokenizerId, 'tok-a');
    assert.equal(exported.info.trainedSteps, 4);
    disposeTransformer(exported);

    const more = await runTraining({ data: [trainA, trainB], runDir, resume: true, train: { steps: 6 }, quiet: true });
    assert.equal(more.train.step, 6);
    assert.equal(more.train.history[0].step, 5);
    const ck = await loadCheckpoint(path.join(runDir, 'checkpoints', 'step-6'));
    assert.equal(ck.state.step, 6);
    disposeTransformer(ck.model);
    await assert.rejects(runTraining({ data: [trainA], runDir, resume: true, train: { learningRate: 0.1 }, quiet: true }), /--resume continues with the run's saved settings; drop learningRate/);
    // without data, a resumed run continues on the datasets and held-out set its checkpoints name
    const resumed: string[] = [];
    const last = await runTraining({ data: [], runDir, resume: true, train: { steps: 7 }, quiet: true, log: (l) => resumed.push(l) });
    assert.equal(last.train.step, 7);
    assert.ok(resumed.includes(`data: 10 sequences from ${path.resolve(trainA)}, ${path.resolve(trainB)}; validation: 4 from ${path.resolve(val)}`), resumed.join('\n'));
  });

  it('--balance samples the record groups of all datasets evenly, and --resume keeps doing so', async () => {
    const g1 = await writeDataset(path.join(dir, 'grouped-1'), 5, 6, {}, ['a', 'a', 'a', 'a', 'b']);
    const g2 = await writeDataset(path.join(dir, 'grouped-2'), 2, 7, {}, ['b', 'c']);
    const runDir = path.join(dir, 'runs', 'balanced');
    const lines: string[] = [];
    const res = await runTraining({ data: [g1, g2], runDir, preset: 'tiny', train: { steps: 2, batchSize: 3, balanceGroups: true, checkpointEvery: 1 }, quiet: true, log: (l) => lines.push(l) });
    assert.equal(res.train.step, 2);
    assert.ok(lines.includes('data order: 3 record groups (by image) sampled evenly'), lines.join('\n'));
    const ck = await loadCheckpoint(path.join(runDir, 'checkpoints', 'step-2'));
    assert.equal(ck.trainConfig.balanceGroups, true);
    assert.deepEqual(ck.state.order, { seed: 0, epoch: 0, index: 6, groups: 3 }, 'the checkpoint holds the balanced order');
    disposeTransformer(ck.model);
    const resumed: string[] = [];
    const more = await runTraining({ data: [g1, g2], runDir, resume: true, train: { steps: 3 }, quiet: true, log: (l) => resumed.push(l) });
    assert.equal(more.train.step, 3);
    assert.ok(resumed.includes('data order: 3 record groups (by image) sampled evenly'));
    await assert.rejects(
      runTraining({ data: [g1, trainA], runDir: path.join(dir, 'runs', 'balanced-2'), preset: 'tiny', train: { steps: 1, balanceGroups: true }, quiet: true }),
      (e: Error) => e instanceof UsageError && /--balance samples record groups, but .*train-a has none; re-encode it with dvae-encode --group-by/.test(e.message),
    );
  });

  it('--focus weighs the groups by their loss under the init model, keeps the weights in the run folder, and --resume reads them back', async () => {
    const g1 = await writeDataset(path.join(dir, 'focus-1'), 6, 8, {}, ['a', 'a', 'b', 'b', 'c', 'c']);
    const runDir = path.join(dir, 'runs', 'focused');
    const lines: string[] = [];
    const res = await runTraining({ data: [g1], runDir, init: initDir, train: { steps: 2, batchSize: 3, balanceGroups: true, focus: 2, checkpointEvery: 1 }, quiet: true, log: (l) => lines.push(l) });
    assert.equal(res.train.step, 2);
    const saved = JSON.parse(await fsp.readFile(path.join(runDir, 'focus.json'), 'utf8'));
    assert.deepEqual(saved.names, ['a', 'b', 'c']);
    assert.equal(saved.alpha, 2);
    assert.equal(saved.model, path.resolve(initDir));
    // the losses are the init model's image losses of the groups' records (2 each, all measured)
    const init = await loadTransformer(initDir);
    const ds = await openTokenDataset(g1);
    const expected = [0, 2, 4].map((r) => evaluateLoss(init, { ...ds, size: 2, batch: (idx: number[]) => ds.batch(idx.map((i) => r + i)) }).image);
    disposeTransformer(init);
    saved.losses.forEach((l: number, g: number) => assert.ok(Math.abs(l - expected[g]) < 1e-5, `group ${g}: ${l} vs ${expected[g]}`));
    const w = expected.map((l) => l ** 2);
    const mean = w.reduce((a, b) => a + b) / 3;
    saved.weights.forEach((x: number, g: number) => assert.ok(Math.abs(x - w[g] / mean) < 1e-4, `weight ${g}`)); // losses this close need no floor
    assert.ok(lines.includes(`focus: measuring the image loss of up to 4 records per group under ${path.resolve(initDir)}`), lines.join('\n'));
    assert.ok(lines.some((l) => l === `data order: 3 record groups (by image) sampled by their image loss under ${path.resolve(initDir)}`), lines.join('\n'));
    assert.ok(lines.some((l) => /^focus 2: group image loss min [\d.]+, median [\d.]+, max [\d.]+; the tenth of the groups with the highest loss gets [\d.]+% of the draws, the tenth with the lowest [\d.]+%$/.test(l)), lines.join('\n'));
    const ck = await loadCheckpoint(path.join(runDir, 'checkpoints', 'step-2'));
    assert.equal(ck.trainConfig.focus, 2);
    disposeTransformer(ck.model);
    const resumed: string[] = [];
    const more = await runTraining({ data: [g1], runDir, resume: true, train: { steps: 3 }, quiet: true, log: (l) => resumed.push(l) });
    assert.equal(more.train.step, 3);
    assert.ok(resumed.some((l) => l.startsWith('focus 2: ')) && !resumed.some((l) => l.startsWith('focus: measuring')), 'resume reads the weights, it does not measure them again');
    await fsp.rm(path.join(runDir, 'focus.json'));
    await assert.rejects(runTraining({ data: [g1], runDir, resume: true, train: { steps: 4 }, quiet: true }), {
      name: 'UsageError',
      message: `${path.join(runDir, 'focus.json')} is missing: a run with --focus keeps its group weights there; it cannot resume without them`,
    });
    await assert.rejects(runTraining({ data: [g1], runDir: path.join(dir, 'runs', 'focus-2'), preset: 'tiny', train: { steps: 1, focus: 1 }, quiet: true }), {
      name: 'UsageError',
      message: 'focus weighs record groups: it needs balanceGroups (dalle-train --balance), got focus 1 without it',
    });
  });

  it('refuses datasets that do not match the model, its dVAE or tokenizer, or each other', async () => {
    const runDir = path.join(dir, 'runs', 'r2');
    const grid4 = await writeDataset(path.join(dir, 'grid4'), 2, 1, { gridSize: 4 });
    const otherDvae = await writeDataset(path.join(dir, 'other-dvae'), 2, 1, { dvaeId: 'dvae-b' });
    const isUsage = (re: RegExp) => (e: Error) => e instanceof UsageError && re.test(e.message);
    await assert.rejects(runTraining({ data: [grid4], runDir, preset: 'tiny', train: { steps: 1 }, quiet: true }), isUsage(/gridSize 4, expected 3/));
    await assert.rejects(runTraining({ data: [trainA, otherDvae], runDir, preset: 'tiny', train: { steps: 1 }, quiet: true }), isUsage(/other-dvae: dvaeId is "dvae-b" but .*train-a has "dvae-a"; datasets trained together must agree/));
    await assert.rejects(runTraining({ data: [otherDvae], runDir, init: initDir, train: { steps: 1 }, quiet: true }), isUsage(/dvaeId "dvae-b", expected "dvae-a".*; to warm-start from a model trained on another dVAE's codes, add --reinit-image \(fresh image part\) or --remap-image DIR/));
    await assert.rejects(runTraining({ data: [otherDvae], runDir, preset: 'tiny', reinitImage: true, train: { steps: 1 }, quiet: true }), isUsage(/^--reinit-image goes with --init/));
    await assert.rejects(runTraining({ data: [], runDir, preset: 'tiny', quiet: true }), isUsage(/no training data/));
  });

  it('refuses a run folder that another live trainer holds, and frees it afterwards', async () => {
    const runDir = path.join(dir, 'runs', 'locked');
    await fsp.mkdir(runDir, { recursive: true });
    await fsp.writeFile(path.join(runDir, RUN_LOCK_FILE), String(process.ppid));
    await assert.rejects(runTraining({ data: [trainA], runDir, preset: 'tiny', train: { steps: 1 }, quiet: true }), /is in use by another dalle-train \(pid \d+\)/);
    await fsp.writeFile(path.join(runDir, RUN_LOCK_FILE), '999999999'); // a dead process
    await runTraining({ data: [trainA], runDir, preset: 'tiny', train: { steps: 1, batchSize: 2 }, quiet: true });
    await assert.rejects(fsp.access(path.join(runDir, RUN_LOCK_FILE)));
  });

  it('warm start with --init keeps the weights and config of the model folder', async () => {
    const exportDir = path.join(dir, 'export-init');
    const res = await runTraining({ data: [trainA], runDir: path.join(dir, 'runs', 'r3'), init: initDir, train: { steps: 1, batchSize: 2, learningRate: 1e-9, warmupSteps: 0 }, exportDir, quiet: true });
    assert.equal(res.train.step, 1);
    assert.equal(imageSeqLen(res.config), 9);
    // without --val this run has no validation figures: the init model's are not passed off as its own
    const after = await loadTransformer(exportDir);
    assert.equal(after.info.val, undefined);
    assert.equal(after.info.trainedSteps, 1);
    assert.equal(after.info.initSteps, 140);
    disposeTransformer(after);
  });

  it('--init with reinitImage trains on another dVAE\'s codes: text and blocks kept, image part fresh, new dvaeId', async () => {
    const otherDvae = await writeDataset(path.join(dir, 'other-dvae-2'), 4, 5, { dvaeId: 'dvae-b' });
    const exportDir = path.join(dir, 'export-reinit');
    const lines: string[] = [];
    const res = await runTraining({ data: [otherDvae], val: otherDvae, runDir: path.join(dir, 'runs', 'r4'), init: initDir, reinitImage: true, train: { steps: 1, batchSize: 2, learningRate: 1e-9, warmupSteps: 0, weightDecay: 0 }, exportDir, quiet: true, log: (l) => lines.push(l) });
    assert.equal(res.train.step, 1);
    assert.ok(lines.some((l) => /image-code embeddings and image head re-initialised/.test(l)));
    const [before, after] = [await loadTransformer(initDir), await loadTransformer(exportDir)];
    try {
      assert.equal(after.info.dvaeId, 'dvae-b');
      // steps before the warm start add up along the chain
      assert.equal(after.info.trainedSteps, 1);
      assert.equal(after.info.initSteps, 140);
      assert.equal(after.info.initFrom, path.resolve(initDir));
      const close = (k: 'blocks.0.attn.qkv.kernel' | 'head.text.kernel' | 'head.image.kernel') => tf.tidy(() => tf.max(tf.abs(tf.sub(before.params[k], after.params[k]))).dataSync()[0]);
      assert.ok(close('blocks.0.attn.qkv.kernel') < 1e-6);
      assert.ok(close('head.text.kernel') < 1e-6);
      assert.ok(close('head.image.kernel') > 1e-3);
    } finally {
      disposeTransformer(before);
      disposeTransformer(after);
    }
  });
  it('--init with remapImage carries the image part over to a relabelled encoding of the same images', async () => {
    const isUsage = (re: RegExp) => (e: Error) => e instanceof UsageError && re.test(e.message);
    const perm = [3, 0, 6, 1, 7, 2, 5, 4];
    const oldCodes = await writeDataset(path.join(dir, 'remap-old'), 12, 1); // by the init model's dVAE
    const newCodes = await writeDataset(path.join(dir, 'remap-new'), 12, 1, { dvaeId: 'dvae-b' }, undefined, (c) => perm[c]);
    const exportDir = path.join(dir, 'export-remap');
    const lines: string[] = [];
    const steps = { steps: 1, batchSize: 2, learningRate: 1e-9, warmupSteps: 0, weightDecay: 0 };
    await runTraining({ data: [newCodes], val: newCodes, runDir: path.join(dir, 'runs', 'r5'), init: initDir, remapImage: [oldCodes], train: steps, exportDir, quiet: true, log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => l.includes(`image codes carried over from ${oldCodes}: 8 of 8 new codes occur; 100.0% of grid positions agree`)), lines.join('\n'));
    const [before, after] = [await loadTransformer(initDir), await loadTransformer(exportDir)];
    try {
      assert.equal(after.info.dvaeId, 'dvae-b');
      const b = before.params['head.image.bias'].arraySync() as number[];
      const w = before.params['head.image.kernel'].arraySync() as number[][];
      const w2 = after.params['head.image.kernel'].arraySync() as number[][];
      for (let c = 0; c < w.length; c++) for (let i = 0; i < perm.length; i++) assert.ok(Math.abs(w2[c][perm[i]] - w[c][i]) < 1e-6, `head [${c}, ${i}]`);
      assert.equal(b.length, 8);
    } finally {
      disposeTransformer(before);
      disposeTransformer(after);
    }
    const runDir = path.join(dir, 'runs', 'r6');
    await assert.rejects(runTraining({ data: [newCodes], runDir, preset: 'tiny', remapImage: [oldCodes], train: steps, quiet: true }), isUsage(/^--remap-image goes with --init/));
    await assert.rejects(runTraining({ data: [newCodes], runDir, init: initDir, reinitImage: true, remapImage: [oldCodes], train: steps, quiet: true }), isUsage(/^--remap-image and --reinit-image exclude each other/));
    await assert.rejects(runTraining({ data: [newCodes, newCodes], runDir, init: initDir, remapImage: [oldCodes], train: steps, quiet: true }), isUsage(/^--remap-image needs one folder per --data folder .*: got 1 for 2$/));
    // the old encoding must come from the init model's dVAE, and hold the same images
    await assert.rejects(runTraining({ data: [newCodes], runDir, init: initDir, remapImage: [newCodes], train: steps, quiet: true }), /dvaeId/);
    await assert.rejects(runTraining({ data: [newCodes], runDir, init: initDir, remapImage: [trainB], train: steps, quiet: true }), isUsage(/must hold the same images in the same order, encoded by two dVAEs: 4 records against 12$/));
  });
});

describe('dalle-train command', function () {
  this.timeout(CLI);
  const bin = path.resolve('packages/transformer/bin/dalle-train.js');
  it('--help describes the options; bad input exits 2 with one line', () => {
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    for (const flag of ['--data', '--val', '--resume', '--init', '--reinit-image', '--remap-image', '--export', '--grad-accum', '--clip-norm', '--caption-dropout', '--balance', '--focus']) assert.ok(help.stdout.includes(flag), flag);
    const bad = spawnSync(process.execPath, [bin, '--data', '/nonexistent-dataset', '--backend', 'cpu', '--preset', 'tiny', '--runs-dir', os.tmpdir(), '--name', `dalle-train-test-${process.pid}`], { encoding: 'utf8' });
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /dalle-train: error: not a token dataset/);
    const badFocus = spawnSync(process.execPath, [bin, '--data', '/nonexistent-dataset', '--focus', '-1'], { encoding: 'utf8' });
    assert.equal(badFocus.status, 2, badFocus.stderr);
    assert.match(badFocus.stderr, /--focus/);
    const unbalanced = spawnSync(process.execPath, [bin, '--data', '/nonexistent-dataset', '--backend', 'cpu', '--preset', 'tiny', '--focus', '2', '--runs-dir', os.tmpdir(), '--name', `dalle-train-test-focus-${process.pid}`], { encoding: 'utf8' });
    assert.equal(unbalanced.status, 2, unbalanced.stderr);
    assert.match(unbalanced.stderr, /dalle-train: error: focus weighs record groups: it needs balanceGroups \(dalle-train --balance\), got focus 2 without it/);
  });
});
