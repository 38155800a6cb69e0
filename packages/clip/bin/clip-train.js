#!/usr/bin/env node
// Launcher: runs the TypeScript command through tsx, so no build step is needed. Both of tsx's
// hooks are registered: ESM for our sources, CommonJS for tfjs-core's gradient files that
// @dalle/core's ensureGradients() loads with require().
import { register } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';
register();
registerCjs();
await import('../src/cli/clip-train.ts');
