// Shared by the benchmarks' --profile: kernel times from tf.profile summed by kernel name (matrix
// products also by operand shapes), op-level wrappers and scopes left out so nothing counts twice.
import type * as tf from '@tensorflow/tfjs-core';

type Kernel = Awaited<ReturnType<typeof tf.profile>>['kernels'][number];

/** Prints the `top` largest kernels by summed time under `title`, each with its share and call count. */
export function printKernelTable(title: (totalMs: number) => string, kernels: Kernel[], top: number, indent = '  '): void {
  const byName = new Map<string, { ms: number; calls: number }>();
  for (const k of kernels) {
    if (k.name.endsWith('__op') || k.name === 'unnamed scope') continue;
    const key = k.name === 'BatchMatMul' || k.name === '_FusedMatMul' ? `${k.name} ${k.inputShapes.slice(0, 2).map((x) => `[${x}]`).join('x')}` : k.name;
    const e = byName.get(key) ?? { ms: 0, calls: 0 };
    e.ms += k.kernelTimeMs as number;
    e.calls++;
    byName.set(key, e);
  }
  const total = [...byName.values()].reduce((s, e) => s + e.ms, 0);
  console.log(title(total));
  for (const [name, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
    console.log(`${indent}${name.padEnd(44)} ${e.ms.toFixed(1).padStart(7)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  ${e.calls} calls`);
  }
}
