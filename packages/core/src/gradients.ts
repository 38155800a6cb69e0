// Registers tfjs-core's gradient functions on every backend. The Node build of tfjs-core
// (dist/tf-core.node.js) leaves them out (the @tensorflow/tfjs bundle adds them), so without this
// tf.grad / tf.variableGrads fail with "gradient function not found". The files under dist/ are
// ESM with extensionless imports that Node's loaders refuse, so they are required with tsx's
// CommonJS hooks switched on for the duration. They register into tfjs's global registry.
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { register } from 'tsx/cjs/api';

const require = createRequire(import.meta.url);

/** Makes tf.grad / tf.variableGrads work; a no-op once gradients are registered. */
export function ensureGradients(): void {
  if (tf.getGradient('BatchMatMul') && tf.getGradient('Conv2D')) return;
  const unregister = register();
  try {
    require('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  } finally {
    unregister();
  }
}
