import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { decays } from '@dalle/transformer';

describe('transformer train config', () => {
  it('AdamW decays matrices (kernels, embeddings) but neither biases nor LayerNorm vectors', () => {
    const [kernel, bias2d, gain] = [tf.zeros([2, 3]), tf.zeros([2, 3]), tf.zeros([3])];
    assert.equal(decays('blocks.0.mlp.fc.kernel', kernel), true);
    assert.equal(decays('embed.tokens', kernel), true);
    assert.equal(decays('blocks.0.mlp.fc.bias', bias2d), false);
    assert.equal(decays('blocks.0.ln1.gamma', gain), false);
    tf.dispose([kernel, bias2d, gain]);
  });
});
