// Leak helper: a function that returns a tensor may leave exactly `returned` new tensors alive.
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';

export async function expectNoLeak<T>(fn: () => T | Promise<T>, returned = 0): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  assert.equal(after - before, returned, `expected ${returned} new tensor(s), found ${after - before}`);
  return result;
}
