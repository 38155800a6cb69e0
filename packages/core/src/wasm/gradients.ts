// Registers tfjs-core's gradient functions. The Node build of @tensorflow/tfjs-core that imports
// resolve to (dist/tf-core.node.js) leaves them out; the @tensorflow/tfjs bundle adds them, but
// this project depends on tfjs-core alone, so without this every tf.grad fails with "gradient
// function not found". The ESM sources under dist/ use extensionless imports that Node's ESM
// loader refuses, so they are loaded through require() with tsx's CommonJS hooks switched on for
// the duration (bin launchers install only tsx's ESM hooks). They register into tfjs's global
// registry, which both module copies share.
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { register } from 'tsx/cjs/api';

const require = createRequire(import.meta.url);

/** Makes tf.grad / tf.variableGrads work; a no-op when gradients are already registered. */
export function registerGradients(): void {
  if (tf.getGradient('BatchMatMul') && tf.getGradient('Conv2D')) return;
  const unregister = register();
  try {
    require('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  } finally {
    unregister();
  }
}
