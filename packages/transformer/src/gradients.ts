// Registers tfjs-core's gradient functions, which @tensorflow/tfjs-core alone does not do (the
// @tensorflow/tfjs bundle does). Their ESM sources use extensionless imports that Node's loaders
// refuse, so they are required with tsx's CommonJS hooks switched on for the duration: the bin
// launchers only install tsx's ESM hooks, and core's registerGradients() fails there. Registering
// here first (at import) makes core's call a no-op. Registration is global and idempotent.
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { register } from 'tsx/cjs/api';

const require = createRequire(import.meta.url);

if (!tf.getGradient('BatchMatMul')) {
  const unregister = register();
  try {
    require('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  } finally {
    unregister();
  }
}
