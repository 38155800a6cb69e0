// AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization") over a record of
// variables, with a state that saves to safetensors and restores exactly for --resume.
import * as tf from '@tensorflow/tfjs-core';
import { UsageError, checkTensorSet, dataToTensor, tensorToData, type NamedTensors } from '@dalle/core';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled decay, applied only to matrices (kernels, embeddings, projections), never to biases, norms or the logit scale. */
  weightDecay: number;
}

/** CLIP's settings (beta2 0.98 and eps 1e-6 for transformer stability; decay 0.2 there, 0.1 for our small data). */
export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.1 };

export interface AdamWState {
  step: number;
  tensors: NamedTensors; // m.<key> and v.<key>
}

export class AdamW {
  readonly config: AdamWConfig;
  private stepCount = 0;
  private readonly m: Record<string, tf.Variable> = {};
  private readonly v: Record<string, tf.Variable> = {};

  constructor(
    private readonly vars: Record<string, tf.Variable>,
    config: Partial<AdamWConfig> = {},
  ) {
    this.config = { ...ADAMW_DEFAULTS, ...config };
    for (const [k, x] of Object.entries(vars)) {
      const zeros = tf.zerosLike(x);
      this.m[k] = tf.variable(zeros, false);
      this.v[k] = tf.variable(zeros, false);
      zeros.dispose(); // the variables keep their own reference to the data
    }
  }

  get step(): number {
    return this.stepCount;
  }

  /** One update with learning rate `lr`; `grads` holds a gradient per variable key (missing = zero). */
  apply(grads: Record<string, tf.Tensor>, lr: number): void {
    this.stepCount++;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const t = this.stepCount;
    const c1 = 1 / (1 - beta1 ** t); // bias corrections
    const c2 = 1 / (1 - beta2 ** t);
    for (const [k, x] of Object.entries(this.vars)) {
      const g = grads[k];
      if (!g) continue;
      tf.tidy(() => {
        const m = tf.add(tf.mul(this.m[k], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[k], beta2), tf.mul(tf.square(g), 1 - beta2));
        this.m[k].assign(m);
        this.v[k].assign(v);
        const update = tf.div(tf.mul(m, c1), tf.add(tf.sqrt(tf.mul(v, c2)), eps));
        const decayed = weightDecay > 0 && x.rank >= 2 ? tf.mul(x, 1 - lr * weightDecay) : x;
        x.assign(tf.sub(decayed, tf.mul(update, lr)));
      });
    }
  }

  state(): AdamWState {
    const tensors: NamedTensors = {};
    for (const k of Object.keys(this.vars)) {
      tensors[`m.${k}`] = tensorToData(this.m[k]);
      tensors[`v.${k}`] = tensorToData(this.v[k]);
    }
    return { step: this.stepCount, tensors };
  }

  /** Restores a saved state; refuses one whose keys or shapes differ from this model's. */
  loadState(state: AdamWState, source = 'optimizer state'): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new UsageError(`${source}: step must be a non-negative integer, got ${state.step}`);
    const expected: Record<string, { shape: number[] }> = {};
    for (const [k, x] of Object.entries(this.vars)) {
      expected[`m.${k}`] = { shape: x.shape };
      expected[`v.${k}`] = { shape: x.shape };
    }
    checkTensorSet(expected, state.tensors, source);
    for (const k of Object.keys(this.vars)) {
      for (const [slot, store] of [['m', this.m], ['v', this.v]] as const) {
        const t = dataToTensor(state.tensors[`${slot}.${k}`]);
        store[k].assign(t);
        t.dispose();
      }
    }
    this.stepCount = state.step;
  }

  dispose(): void {
    for (const x of [...Object.values(this.m), ...Object.values(this.v)]) x.dispose();
  }
}
