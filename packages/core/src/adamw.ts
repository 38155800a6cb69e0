// AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"): Adam (Kingma & Ba 2015)
// with bias correction and decoupled decay over a record of variables. Its whole state (step count,
// first and second moments) saves to and loads from plain tensors, so a resumed run continues exactly.
import * as tf from '@tensorflow/tfjs-core';
import { UsageError, check } from './errors.ts';
import type { NamedTensors } from './safetensors.ts';
import { checkTensorSet, dataToTensor, tensorToData } from './weights.ts';

export interface AdamWConfig {
  /** Decay rate of the first moment (the running mean of gradients). */
  beta1: number;
  /** Decay rate of the second moment (the running mean of squared gradients). */
  beta2: number;
  /** Added to sqrt(vHat) so a tiny second moment cannot blow the step up. */
  epsilon: number;
  /** Decoupled decay: each step also moves a decayed variable by -lr * weightDecay * p. */
  weightDecay: number;
}

/** Kingma & Ba's settings and no decay: plain Adam unless a caller opts in. */
export const ADAM_DEFAULTS: Readonly<AdamWConfig> = Object.freeze({
  beta1: 0.9, // the paper's default
  beta2: 0.999, // the paper's default
  epsilon: 1e-8, // the paper's default
  weightDecay: 0, // decay is a per-model choice
});

/** Which variables weight decay applies to, by key and value. */
export type DecayPredicate = (key: string, v: tf.Variable) => boolean;

/** Decays matrices (kernels, embeddings, projections), never vectors or scalars (biases, norm gains, scales). */
export const decaysMatrices: DecayPredicate = (_key, v) => v.rank >= 2;

/** The optimizer's state in checkpoints: `m.<key>` and `v.<key>` for every variable, and the step count. */
export interface AdamWState {
  step: number;
  tensors: NamedTensors;
}

function zeroVariable(like: tf.Tensor): tf.Variable {
  const zeros = tf.zerosLike(like);
  const v = tf.variable(zeros, false);
  zeros.dispose(); // the variable holds its own reference to the data
  return v;
}

export class AdamW {
  readonly config: AdamWConfig;
  private steps = 0;
  private readonly m: Record<string, tf.Variable> = {};
  private readonly v: Record<string, tf.Variable> = {};

  constructor(
    private readonly vars: Record<string, tf.Variable>,
    config: Partial<AdamWConfig> = {},
    private readonly decays: DecayPredicate = decaysMatrices,
  ) {
    const c = { ...ADAM_DEFAULTS, ...config };
    check(c.beta1 >= 0 && c.beta1 < 1, `AdamW: beta1 must be in [0, 1), got ${c.beta1}`);
    check(c.beta2 >= 0 && c.beta2 < 1, `AdamW: beta2 must be in [0, 1), got ${c.beta2}`);
    check(c.epsilon > 0 && Number.isFinite(c.epsilon), `AdamW: epsilon must be a positive number, got ${c.epsilon}`);
    check(c.weightDecay >= 0 && Number.isFinite(c.weightDecay), `AdamW: weightDecay must be a number >= 0, got ${c.weightDecay}`);
    this.config = c;
    for (const [key, x] of Object.entries(vars)) {
      this.m[key] = zeroVariable(x);
      this.v[key] = zeroVariable(x);
    }
  }

  /** Updates applied so far (t in the paper; bias correction uses it). */
  get step(): number {
    return this.steps;
  }

  /**
   * One update with learning rate `lr`:
   * p <- p - lr * mHat / (sqrt(vHat) + eps) - lr * weightDecay * p (the last term for decayed variables only).
   * `grads` is keyed like the variables; a variable without a gradient keeps its value and moments.
   */
  apply(grads: Record<string, tf.Tensor | undefined>, lr: number): void {
    // Check everything before changing anything, so a bad call leaves the optimizer as it was.
    for (const [key, g] of Object.entries(grads)) {
      const x = this.vars[key];
      if (!x) throw new Error(`AdamW: gradient for unknown variable "${key}"`);
      if (g && !tf.util.arraysEqual(g.shape, x.shape)) throw new Error(`AdamW: gradient for "${key}" has shape [${g.shape}] but the variable has [${x.shape}]`);
    }
    this.steps++;
    const { beta1, beta2, epsilon, weightDecay } = this.config;
    const c1 = 1 - beta1 ** this.steps; // bias corrections
    const c2 = 1 - beta2 ** this.steps;
    tf.tidy(() => {
      for (const [key, x] of Object.entries(this.vars)) {
        const g = grads[key];
        if (!g) continue;
        const m = tf.add(tf.mul(this.m[key], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[key], beta2), tf.mul(tf.square(g), 1 - beta2));
        this.m[key].assign(m);
        this.v[key].assign(v);
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), epsilon)); // mHat / (sqrt(vHat) + eps)
        let next = tf.sub(x, tf.mul(update, lr));
        if (weightDecay > 0 && this.decays(key, x)) next = tf.sub(next, tf.mul(x, lr * weightDecay));
        x.assign(next);
      }
    });
  }

  /** The moments as named tensors (`m.<key>`, `v.<key>`) plus the step count, for a checkpoint. */
  state(): AdamWState {
    const tensors: NamedTensors = {};
    for (const key of Object.keys(this.vars)) {
      tensors[`m.${key}`] = tensorToData(this.m[key]);
      tensors[`v.${key}`] = tensorToData(this.v[key]);
    }
    return { step: this.steps, tensors };
  }

  /** Restores a state from state(); refuses a bad step or a tensor set whose keys or shapes differ, before changing anything. */
  loadState(state: AdamWState, source: string): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new UsageError(`${source}: optimizer step must be a non-negative integer, got ${state.step}`);
    const expected: Record<string, tf.Variable> = {};
    for (const key of Object.keys(this.vars)) {
      expected[`m.${key}`] = this.m[key];
      expected[`v.${key}`] = this.v[key];
    }
    checkTensorSet(expected, state.tensors, source);
    for (const [name, target] of Object.entries(expected)) {
      const t = dataToTensor(state.tensors[name]);
      target.assign(t);
      t.dispose();
    }
    this.steps = state.step;
  }

  dispose(): void {
    for (const t of [...Object.values(this.m), ...Object.values(this.v)]) t.dispose();
  }
}
