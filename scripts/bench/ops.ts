// `pnpm bench ops`: GFLOP/s of the ops that dominate dVAE and transformer training (matMul with
// each transpose, batched attention matmuls, conv2d and both of its gradients, one attention
// block forward+backward) on the active backend, beside the machine's sgemm ceiling.
// DALLE_BACKEND picks the backend; DALLE_WASM_PATCHES=0 measures the stock wasm kernels;
// DALLE_WASM_THREADS=N tries the experimental threaded wasm build with N XNNPACK threads.
// Options: --quick (fewer repetitions), --only <substring> (run matching cases only).
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients, selectBackend, wasmThreadsCount } from '@dalle/core';

/** OpenBLAS sgemm 2048 on this machine (docs: PLATFORM.md); the ceiling to compare against. */
const SGEMM_CEILING_GFLOPS = 130;
/** Each case runs until this much time has passed (after one warm-up run). */
const TARGET_MS = process.argv.includes('--quick') ? 300 : 1500;
const onlyIdx = process.argv.indexOf('--only');
const only = onlyIdx >= 0 ? process.argv[onlyIdx + 1] : undefined;

interface Case {
  name: string;
  /** Floating-point operations of one run. */
  flops: number;
  /** Builds the inputs once; returns the timed function and a cleanup. */
  setup: () => { run: () => void; dispose: () => void };
}

/** Runs f in a tidy and reads its result back (returning the data from tidy would make it scan the array). */
function sync(f: () => tf.Tensor): void {
  tf.tidy(() => {
    f().dataSync();
  });
}

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

function matmulCase(name: string, aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): Case {
  const r = aShape.length;
  const m = transposeA ? aShape[r - 1] : aShape[r - 2];
  const k = transposeA ? aShape[r - 2] : aShape[r - 1];
  const n = transposeB ? bShape[r - 2] : bShape[r - 1];
  const batch = aShape.slice(0, -2).reduce((p, q) => p * q, 1);
  return {
    name,
    flops: 2 * batch * m * k * n,
    setup: () => {
      const a = rand(aShape, 1);
      const b = rand(bShape, 2);
      return {
        run: () => sync(() => tf.matMul(a, b, transposeA, transposeB)),
        dispose: () => tf.dispose([a, b]),
      };
    },
  };
}

// dVAE-like conv layer: batch 16, 32x32x64 -> 3x3x64x64, stride 1, 'same'.
const CONV = { B: 16, H: 32, W: 32, C: 64, K: 3, F: 64 };
const CONV_FLOPS = 2 * CONV.B * CONV.H * CONV.W * CONV.C * CONV.F * CONV.K * CONV.K;

function convCase(name: string, which: 'forward' | 'input' | 'filter'): Case {
  const { B, H, W, C, K, F } = CONV;
  return {
    name,
    flops: CONV_FLOPS,
    setup: () => {
      const x = rand([B, H, W, C], 3) as tf.Tensor4D;
      const w = rand([K, K, C, F], 4) as tf.Tensor4D;
      const dy = rand([B, H, W, F], 5) as tf.Tensor4D;
      const run =
        which === 'forward'
          ? () => sync(() => tf.conv2d(x, w, 1, 'same'))
          : which === 'input'
            ? () => sync(() => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { inputShape: x.shape, strides: [1, 1], pad: 'same', dataFormat: 'NHWC' }) as tf.Tensor)
            : () => sync(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { filterShape: w.shape, strides: [1, 1], pad: 'same', dataFormat: 'NHWC' }) as tf.Tensor);
      return { run, dispose: () => tf.dispose([x, w, dy]) };
    },
  };
}

/** dVAE decoder upsampling: conv2dTranspose 16x16x64 -> 32x32x64, 4x4 filter, stride 2 (each output sums 2x2 taps). */
function convTransposeCase(): Case {
  const [B, H, C] = [16, 16, 64];
  return {
    name: `conv2dTranspose ${B}x${H}x${H}x${C} -> ${2 * H}x${2 * H}x${C} k4 s2`,
    flops: 2 * B * (2 * H) * (2 * H) * C * C * 4,
    setup: () => {
      const x = rand([B, H, H, C], 9) as tf.Tensor4D;
      const w = rand([4, 4, C, C], 10) as tf.Tensor4D;
      return { run: () => sync(() => tf.conv2dTranspose(x, w, [B, 2 * H, 2 * H, C], 2, 'same')), dispose: () => tf.dispose([x, w]) };
    },
  };
}

// Attention block as the transformer uses it: d=256, 4 heads, T=96, batch 16, causal.
const ATT = { B: 16, T: 96, D: 256, H: 4 };

function attentionCase(): Case {
  const { B, T, D, H } = ATT;
  const hd = D / H;
  const forwardFlops = 2 * B * T * D * 3 * D + 2 * 2 * B * H * T * T * hd + 2 * B * T * D * D;
  return {
    name: `attention fwd+bwd d=${D} h=${H} T=${T} B=${B}`,
    // Backward of a matmul costs two matmuls, so forward+backward is three times the forward.
    flops: 3 * forwardFlops,
    setup: () => {
      const x = rand([B, T, D], 6) as tf.Tensor3D;
      const wQkv = tf.variable(tf.mul(rand([D, 3 * D], 7), 0.05));
      const wOut = tf.variable(tf.mul(rand([D, D], 8), 0.05));
      const mask = tf.linalg.bandPart(tf.ones([T, T]), -1, 0); // [T, T] lower triangle
      const negBias = tf.mul(tf.sub(1, mask), -1e9); // [T, T]
      const f = () => {
        const qkv = tf.reshape(tf.matMul(tf.reshape(x, [B * T, D]), wQkv), [B, T, 3, H, hd]);
        const [q, k, v] = tf.split(qkv, 3, 2).map((t) => tf.transpose(tf.reshape(t, [B, T, H, hd]), [0, 2, 1, 3])); // [B, H, T, hd]
        const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)), negBias); // [B, H, T, T]
        const att = tf.matMul(tf.softmax(scores), v); // [B, H, T, hd]
        const merged = tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [B * T, D]);
        return tf.mean(tf.square(tf.matMul(merged, wOut))) as tf.Scalar;
      };
      return {
        run: () =>
          tf.tidy(() => {
            const { grads } = tf.variableGrads(f, [wQkv, wOut]);
            for (const g of Object.values(grads)) g.dataSync();
          }),
        dispose: () => tf.dispose([x, wQkv, wOut, mask, negBias]),
      };
    },
  };
}

const S = 1024;
const cases: Case[] = [
  matmulCase(`matMul ${S} NN`, [S, S], [S, S], false, false),
  matmulCase(`matMul ${S} NT`, [S, S], [S, S], false, true),
  matmulCase(`matMul ${S} TN`, [S, S], [S, S], true, false),
  matmulCase('batched [64,96,64]x[64,64,96] NN', [64, 96, 64], [64, 64, 96], false, false),
  matmulCase('batched [64,96,64]x[64,96,64]^T NT', [64, 96, 64], [64, 96, 64], false, true),
  matmulCase('batched [64,96,96]^T x[64,96,64] TN', [64, 96, 96], [64, 96, 64], true, false),
  convCase('conv2d forward 16x32x32x64 k3x3x64', 'forward'),
  convCase('conv2d backprop input', 'input'),
  convCase('conv2d backprop filter', 'filter'),
  convTransposeCase(),
  attentionCase(),
].filter((c) => !only || c.name.includes(only));

const info = await selectBackend(process.env.DALLE_BACKEND);
ensureGradients(); // the attention case differentiates
const patches = info.name === 'wasm' ? (process.env.DALLE_WASM_PATCHES === '0' ? 'stock kernels (DALLE_WASM_PATCHES=0)' : 'with dalle kernel patches') : 'n/a';
const threads = info.name === 'wasm' ? `; XNNPACK threads: ${wasmThreadsCount()}` : '';
console.log(`backend: ${info.name} (${info.detail}); wasm patches: ${patches}${threads}`);
console.log(`sgemm ceiling on this machine (PLATFORM.md): about ${SGEMM_CEILING_GFLOPS} GFLOP/s`);
// CPU time beside wall time: on a shared 2-core machine the wall figure drops with others' load,
// while this process's CPU time (one wasm thread) stays close to what a quiet machine shows.
// Under DALLE_WASM_THREADS the CPU column sums all threads, so compare wall times there.
console.log('| op | ms/run (wall) | GFLOP/s (wall) | ms/run (CPU) | GFLOP/s (CPU) | % of ceiling (CPU) |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const c of cases) {
  let row: string;
  try {
    const { run, dispose } = c.setup();
    try {
      run(); // warm-up: kernel setup, operator packing
      let runs = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      while (performance.now() - t0 < TARGET_MS || runs < 2) {
        run();
        runs++;
      }
      const ms = (performance.now() - t0) / runs;
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000 / runs;
      const gflops = c.flops / (ms * 1e6);
      const cpuGflops = c.flops / (cpuMs * 1e6);
      row = `| ${c.name} | ${ms.toFixed(1)} | ${gflops.toFixed(2)} | ${cpuMs.toFixed(1)} | ${cpuGflops.toFixed(2)} | ${((100 * cpuGflops) / SGEMM_CEILING_GFLOPS).toFixed(1)}% |`;
    } finally {
      dispose();
    }
  } catch (err) {
    row = `| ${c.name} | failed: ${(err as Error).message.split('\n')[0].slice(0, 80)} | | | | |`;
  }
  console.log(row);
}
