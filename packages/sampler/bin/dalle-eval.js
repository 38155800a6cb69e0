#!/usr/bin/env node
// Launcher: runs the TypeScript command through tsx, so no build step is needed. The CJS hook is
// registered too: tfjs-core's gradient registry is loaded with require() by dvae / transformer.
import { register } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';
register();
registerCjs();
await import('../src/cli/dalle-eval.ts');
