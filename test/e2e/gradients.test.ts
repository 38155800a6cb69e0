// Gradient functions are registered on first use (loading them costs about 0.9 s, which sampling
// skips). In a fresh process, with nothing but the backend chosen, each trainer's gradient step
// must register them itself: the mocha root hook registers them for the other tests, so only a
// child process can catch a trainer that forgot.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from './cli.ts';
import { FAST } from '../helpers/timeouts.ts';

// CommonJS with dynamic imports: node -e accepts no --input-type=module next to --import.
const CHILD = `(async () => {
const tf = await import('@tensorflow/tfjs-core');
const { selectBackend, Rng } = await import('@dalle/core');
await selectBackend('cpu');
const before = Boolean(tf.getGradient('BatchMatMul'));
const out = { before };
// transformer: one step of its trainer on an in-memory token source
const T = await import('@dalle/transformer');
const cfg = T.transformerPreset('tiny');
const N = T.imageSeqLen(cfg);
const rng = new Rng(1);
const source = {
  size: 4,
  manifest: { textSeqLen: cfg.textSeqLen, gridSize: cfg.gridSize, codebookSize: cfg.imageVocabSize, textVocabSize: cfg.textVocabSize, dvaeId: 't', tokenizerId: 't' },
  batch: (idx) => ({
    text: Int32Array.from({ length: idx.length * cfg.textSeqLen }, () => rng.int(cfg.textVocabSize)),
    codes: Int32Array.from({ length: idx.length * N }, () => rng.int(cfg.imageVocabSize)),
  }),
};
const model = T.createTransformer(cfg, 1);
const trainer = new T.TransformerTrainer(model, source, T.resolveTrainConfig({ batchSize: 2 }), T.createEpochOrder);
out.transformer = Number.isFinite(trainer.trainStep().loss);
// CLIP: its gradient function
const C = await import('@dalle/clip');
const clip = new C.ClipModel(C.clipPreset('tiny'), 1);
const images = tf.randomUniform([2, clip.config.imageSize, clip.config.imageSize, 3]);
const ids = tf.tensor2d(Int32Array.from({ length: 2 * clip.config.textSeqLen }, (_, i) => 1 + (i % 5)), [2, clip.config.textSeqLen], 'int32');
const g = C.clipGradients(clip, images, ids);
out.clip = Object.keys(g.grads).length === Object.keys(clip.variables()).length;
// dVAE: one training step
const D = await import('@dalle/dvae');
const dvae = D.Dvae.create(D.dvaePreset('tiny'), 1);
const adam = new D.Adam(dvae.params, D.DVAE_ADAM);
const x = tf.randomUniform([2, dvae.config.imageSize, dvae.config.imageSize, 3]);
const r = await D.trainStep(dvae, adam, x, { lr: 1e-3, temperature: 1, klWeight: 0, hard: false, noiseSeed: 1 });
out.dvae = Number.isFinite(r.loss);
console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe('gradient registration in a fresh process', function () {
  this.timeout(FAST * 6);

  it('the transformer, CLIP and dVAE training steps work without any prior registration', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', CHILD], { encoding: 'utf8', cwd: REPO_ROOT, timeout: FAST * 5 });
    const r = JSON.parse(out.trim().split('\\n').filter((l) => l.startsWith('{')).pop()!) as Record<string, boolean>;
    assert.deepEqual(r, { before: false, transformer: true, clip: true, dvae: true });
  });
});
