// Registers tfjs-core's gradient functions, which the tfjs-core package alone does not do (the
// @tensorflow/tfjs bundle does). Loaded through require: its ESM build uses directory imports
// that Node's ESM loader rejects. Registration is global and idempotent (module cache).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
require('@tensorflow/tfjs-core/dist/register_all_gradients.js');

export const GRADIENTS_REGISTERED = true;
