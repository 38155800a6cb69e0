#!/usr/bin/env node
// Launcher: runs the TypeScript command through tsx, so no build step is needed.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/dvae-decode.ts');
