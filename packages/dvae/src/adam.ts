// Adam (Kingma & Ba 2015) over a record of variables, with bias correction, whose whole state
// (step count, first and second moments) can be saved to and restored from plain tensors, so a
// resumed run continues exactly. tf.train.adam's state is awkward to serialise.
import * as tf from '@tensorflow/tfjs-core';
import { UsageError, type NamedTensors, tensorToData, dataToTensor } from '@dalle/core';
import { variableFrom } from './params.ts';

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export class Adam {
  /** Updates applied so far (t in the paper). */
  step = 0;
  private readonly m: Record<string, tf.Variable> = {};
  private readonly v: Record<string, tf.Variable> = {};
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;

  constructor(private readonly vars: Record<string, tf.Variable>, options: AdamOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    for (const [k, x] of Object.entries(vars)) {
      this.m[k] = variableFrom(tf.zerosLike(x), undefined, false);
      this.v[k] = variableFrom(tf.zerosLike(x), undefined, false);
    }
  }

  /** One update with learning rate `lr`; `grads` has one entry per variable it should move. */
  apply(grads: Record<string, tf.Tensor>, lr: number): void {
    this.step++;
    const t = this.step;
    const c1 = 1 - this.beta1 ** t;
    const c2 = 1 - this.beta2 ** t;
    tf.tidy(() => {
      for (const [k, g] of Object.entries(grads)) {
        const x = this.vars[k];
        if (!x) throw new Error(`Adam: gradient for unknown variable "${k}"`);
        const m = tf.add(tf.mul(this.m[k], this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(this.v[k], this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        this.m[k].assign(m);
        this.v[k].assign(v);
        // x -= lr * (m / c1) / (sqrt(v / c2) + eps)
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), this.epsilon));
        x.assign(tf.sub(x, tf.mul(update, lr)));
      }
    });
  }

  /** The moments as named tensors ("m.<key>", "v.<key>") plus the step count. */
  state(): { step: number; tensors: NamedTensors } {
    const tensors: NamedTensors = {};
    for (const k of Object.keys(this.vars)) {
      tensors[`m.${k}`] = tensorToData(this.m[k]);
      tensors[`v.${k}`] = tensorToData(this.v[k]);
    }
    return { step: this.step, tensors };
  }

  /** Restores a state from state(); every moment must be present with its variable's shape. */
  load(state: { step: number; tensors: NamedTensors }, source: string): void {
    for (const k of Object.keys(this.vars)) {
      for (const which of ['m', 'v'] as const) {
        const d = state.tensors[`${which}.${k}`];
        if (!d) throw new UsageError(`${source}: optimizer state lacks "${which}.${k}"`);
        const want = this.vars[k].shape;
        if (d.shape.length !== want.length || d.shape.some((s, i) => s !== want[i])) {
          throw new UsageError(`${source}: optimizer state "${which}.${k}" has shape [${d.shape}] but the model expects [${want}]`);
        }
      }
    }
    for (const k of Object.keys(this.vars)) {
      for (const which of ['m', 'v'] as const) {
        const t = dataToTensor(state.tensors[`${which}.${k}`]);
        (which === 'm' ? this.m : this.v)[k].assign(t);
        t.dispose();
      }
    }
    this.step = state.step;
  }

  dispose(): void {
    for (const k of Object.keys(this.m)) {
      this.m[k].dispose();
      this.v[k].dispose();
    }
  }
}
