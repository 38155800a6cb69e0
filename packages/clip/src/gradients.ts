// Registers tfjs-core's gradient functions (the Node build of tfjs-core leaves them out), so that
// training and CLIP-guided backpropagation through embedImages work on every backend, cpu included.
// Loaded through require(): the ESM files under dist/ use extensionless imports Node's ESM refuses.
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
if (!tf.getGradient('BatchMatMul')) require('@tensorflow/tfjs-core/dist/register_all_gradients.js');
