// AdamW (Loshchilov & Hutter 2019): Adam with bias correction and decoupled weight decay, with a
// state (step count, first and second moments) that saves to and loads from plain tensors.
import * as tf from '@tensorflow/tfjs-core';
import { UsageError, type NamedTensors, checkTensorSet, dataToTensor, tensorsToData } from '@dalle/core';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
}

/** Decay matrices (kernels, embeddings), not biases or LayerNorm gains (as GPT-2 / nanoGPT do). */
export function decays(key: string, v: tf.Tensor): boolean {
  return v.rank >= 2 && !key.endsWith('.bias');
}

function zeroVariable(like: tf.Tensor): tf.Variable {
  const zeros = tf.zerosLike(like);
  const v = tf.variable(zeros, false);
  zeros.dispose(); // the variable holds its own reference to the data
  return v;
}

export class AdamW {
  /** Optimizer steps taken so far (bias correction uses it). */
  step = 0;
  private readonly m: Record<string, tf.Variable> = {};
  private readonly v: Record<string, tf.Variable> = {};

  constructor(
    private readonly params: Record<string, tf.Variable>,
    readonly config: AdamWConfig,
  ) {
    for (const [key, p] of Object.entries(params)) {
      this.m[key] = zeroVariable(p);
      this.v[key] = zeroVariable(p);
    }
  }

  /** One update: p -= lr * (mHat / (sqrt(vHat) + eps) + weightDecay * p). grads are keyed like params. */
  apply(grads: Record<string, tf.Tensor>, lr: number): void {
    this.step++;
    const { beta1, beta2, epsilon, weightDecay } = this.config;
    const c1 = 1 - Math.pow(beta1, this.step);
    const c2 = 1 - Math.pow(beta2, this.step);
    tf.tidy(() => {
      for (const [key, p] of Object.entries(this.params)) {
        const g = grads[key];
        if (!g) throw new Error(`AdamW: no gradient for "${key}"`);
        const m = tf.add(tf.mul(this.m[key], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[key], beta2), tf.mul(tf.square(g), 1 - beta2));
        this.m[key].assign(m);
        this.v[key].assign(v);
        let update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), epsilon));
        if (weightDecay > 0 && decays(key, p)) update = tf.add(update, tf.mul(p, weightDecay));
        p.assign(tf.sub(p, tf.mul(update, lr)));
      }
    });
  }

  /** Moments as named tensors (`m.<key>`, `v.<key>`), for a checkpoint. */
  stateTensors(): NamedTensors {
    const out: Record<string, tf.Tensor> = {};
    for (const key of Object.keys(this.params)) {
      out[`m.${key}`] = this.m[key];
      out[`v.${key}`] = this.v[key];
    }
    return tensorsToData(out);
  }

  /** Restores moments and the step count after checking every key and shape. */
  loadState(step: number, tensors: NamedTensors, source: string): void {
    const expected: Record<string, tf.Tensor> = {};
    for (const key of Object.keys(this.params)) {
      expected[`m.${key}`] = this.m[key];
      expected[`v.${key}`] = this.v[key];
    }
    checkTensorSet(expected, tensors, source);
    if (!Number.isInteger(step) || step < 0) throw new UsageError(`${source}: optimizer step must be a non-negative integer, got ${step}`);
    for (const [name, target] of Object.entries(expected)) {
      const t = dataToTensor(tensors[name]);
      (target as tf.Variable).assign(t);
      t.dispose();
    }
    this.step = step;
  }

  dispose(): void {
    for (const t of [...Object.values(this.m), ...Object.values(this.v)]) t.dispose();
  }
}
