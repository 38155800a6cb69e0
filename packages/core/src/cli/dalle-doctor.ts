// dalle-doctor: reports the runtime, the backend that would be chosen (and why others were
// skipped), package versions and whether the shipped weights are present.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { createCommand, runCli, setupBackend } from '../cli.ts';

const require = createRequire(import.meta.url);

function version(pkg: string): string {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

const program = createCommand('dalle-doctor', 'Report the runtime, tensor backend and package versions')
  .option('--weights <dir>', 'weights folder to check', 'weights')
  .action(async (opts: { backend?: string; weights: string }) => {
    const info = await setupBackend({ backend: opts.backend });
    const t0 = performance.now();
    const a = tf.randomNormal([256, 256]);
    const c = tf.matMul(a, a);
    await c.data();
    const ms = performance.now() - t0;
    tf.dispose([a, c]);
    const lines = [
      `node            ${process.version} (${process.platform}-${process.arch})`,
      `backend         ${info.name} (${info.detail})`,
      ...info.skipped.map((s) => `  skipped       ${s}`),
      `tfjs-core       ${version('@tensorflow/tfjs-core')}`,
      `tfjs-backend-wasm ${version('@tensorflow/tfjs-backend-wasm')}`,
      `tfjs-node       ${version('@tensorflow/tfjs-node')}`,
      `tfjs-node-gpu   ${version('@tensorflow/tfjs-node-gpu')}`,
      `sharp           ${version('sharp')}`,
      `matmul 256      ${ms.toFixed(1)} ms (first call, includes warm-up)`,
    ];
    const manifest = path.join(opts.weights, 'manifest.json');
    if (existsSync(manifest)) {
      const m = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      lines.push(`weights         ${opts.weights} (${m.name ?? '?'} ${m.version ?? ''})`);
    } else {
      lines.push(`weights         none at ${opts.weights}`);
    }
    console.log(lines.join('\n'));
  });

await runCli(program);
