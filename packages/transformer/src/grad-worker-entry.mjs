// Launcher of a gradient worker thread (data-parallel training): a worker starts without the
// parent's module hooks, so it registers tsx itself (ESM for our sources, CommonJS for tfjs-core's
// gradient files) before loading the TypeScript worker body.
import { register } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';
register();
registerCjs();
await import('./grad-worker.ts');
