// The experimental threaded wasm backend (useThreadedWasm) starts in Node with 2 XNNPACK threads
// and computes what the cpu backend computes. Runs in a child process: it replaces the 'wasm'
// backend, which must not leak into the other tests.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { FAST } from '../helpers/timeouts.ts';

// CommonJS with dynamic imports: node -e accepts no --input-type=module next to --import.
const CHILD = `(async () => {
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-cpu');
await import('@tensorflow/tfjs-backend-wasm');
const { ensureGradients, registerWasmKernels, useThreadedWasm, wasmThreadsCount } = await import('@dalle/core');
useThreadedWasm(2);
registerWasmKernels();
ensureGradients();
const ok = await tf.setBackend('wasm');
const threads = wasmThreadsCount();
const f = () => {
  const a = tf.randomUniform([3, 70, 50], -1, 1, 'float32', 1);
  const b = tf.randomUniform([3, 40, 50], -1, 1, 'float32', 2);
  const x = tf.randomUniform([2, 17, 13, 8], -1, 1, 'float32', 3);
  const w = tf.randomUniform([3, 3, 8, 16], -1, 1, 'float32', 4);
  const loss = (a, w) => tf.add(tf.sum(tf.square(tf.matMul(a, b, false, true))), tf.sum(tf.square(tf.conv2d(x, w, 2, 'same'))));
  const [ga, gw] = tf.grads(loss)([a, w]);
  return [tf.matMul(a, b, false, true), ga, gw].map((t) => Array.from(t.dataSync()));
};
const onWasm = f();
await tf.setBackend('cpu');
const onCpu = f();
let err = 0;
onCpu.forEach((c, k) => c.forEach((v, i) => { err = Math.max(err, Math.abs(onWasm[k][i] - v) / Math.max(1, Math.abs(v))); }));
console.log(JSON.stringify({ ok, threads, err }));
process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe('wasm threads (experimental)', function () {
  this.timeout(FAST * 6);

  it('useThreadedWasm(2) starts two XNNPACK threads and matches cpu', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', CHILD], { encoding: 'utf8', timeout: FAST * 5 });
    const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    assert.ok(line, `no result from the child process; it printed: ${out.slice(-500)}`);
    const { ok, threads, err } = JSON.parse(line) as { ok: boolean; threads: number; err: number };
    assert.equal(ok, true, 'threaded wasm backend initialises');
    assert.equal(threads, 2);
    assert.ok(err <= 1e-4, `relative error ${err}`);
  });

  it('DALLE_WASM_THREADS=2 makes selectBackend start the threaded build, and the process still exits by itself', () => {
    // No process.exit here: XNNPACK's pool threads must not keep Node alive (execFileSync would time out).
    const child = `(async () => {
const tf = await import('@tensorflow/tfjs-core');
const { selectBackend, wasmThreadsCount } = await import('@dalle/core');
const info = await selectBackend('wasm');
const s = tf.sum(tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]))).dataSync()[0];
console.log(JSON.stringify({ threads: wasmThreadsCount(), detail: info.detail, s }));
})();
`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', child], { encoding: 'utf8', timeout: FAST * 5, env: { ...process.env, DALLE_WASM_THREADS: '2' } });
    const { threads, detail, s } = JSON.parse(out.trim().split('\n').pop()!) as { threads: number; detail: string; s: number };
    assert.equal(threads, 2);
    assert.match(detail, /SIMD, 2 threads/);
    assert.equal(s, 64 * 64 * 64);
  });

  it('DALLE_WASM_THREADS outside 1..4 is a usage error', async () => {
    const { wasmThreadsFromEnv } = await import('@dalle/core');
    const saved = process.env.DALLE_WASM_THREADS;
    try {
      process.env.DALLE_WASM_THREADS = '5';
      assert.throws(() => wasmThreadsFromEnv(), { name: 'UsageError', message: 'DALLE_WASM_THREADS must be an integer from 1 to 4, got "5"' });
      process.env.DALLE_WASM_THREADS = 'two';
      assert.throws(() => wasmThreadsFromEnv(), /got "two"/);
      delete process.env.DALLE_WASM_THREADS;
      assert.equal(wasmThreadsFromEnv(), 1);
    } finally {
      if (saved === undefined) delete process.env.DALLE_WASM_THREADS;
      else process.env.DALLE_WASM_THREADS = saved;
    }
  });

  it('rejects thread counts outside 1..4', async () => {
    const { useThreadedWasm } = await import('@dalle/core');
    assert.throws(() => useThreadedWasm(0), /\[1, 4\]/);
    assert.throws(() => useThreadedWasm(5), /\[1, 4\]/);
  });
});
