// Registers tfjs-core's gradient functions, which @tensorflow/tfjs-core alone does not do (the
// @tensorflow/tfjs bundle does). Loaded through require: its ESM build uses directory imports that
// Node's ESM loader rejects. Registration is global and idempotent.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
require('@tensorflow/tfjs-core/dist/register_all_gradients.js');
