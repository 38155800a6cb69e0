// Building blocks of the dVAE's encoder and decoder: a biased NHWC convolution and a
// pre-activation residual block (ReLU, 3x3, ReLU, 3x3; 1x1 skip when widths differ), as in
// DALL-E's dVAE blocks (Ramesh et al. 2021, appendix A.1), without the bottleneck.
import * as tf from '@tensorflow/tfjs-core';
import { convParams, type DvaeParams } from './params.ts';

/**
 * 'same'-padded stride-1 convolution plus bias: [B, H, W, Cin] -> [B, H, W, Cout].
 * The input gradient is computed as a forward convolution of dy with the spatially flipped,
 * in/out-swapped kernel (exact for stride 1, odd kernel, 'same' padding): the wasm backend's
 * Conv2DBackpropInput is several times slower than its XNNPACK forward convolution.
 */
export function conv(x: tf.Tensor4D, params: DvaeParams, key: string): tf.Tensor4D {
  const { kernel, bias } = convParams(params, key);
  return convSame(x, kernel, bias);
}

const convSame = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x4, k4, bias, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.GradSaveFunc];
  save([x4, k4]);
  const value = tf.fused.conv2d({ x: x4, filter: k4, strides: 1, pad: 'same', bias });
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [xs, ks] = saved as [tf.Tensor4D, tf.Tensor4D];
    const dy4 = dy as tf.Tensor4D; // [B, H, W, Cout]
    const [k] = ks.shape; // kernel side, kernel side, Cin, Cout
    const flipped = k === 1 ? tf.transpose(ks, [0, 1, 3, 2]) : tf.transpose(tf.reverse(ks, [0, 1]), [0, 1, 3, 2]); // [k, k, Cout, Cin]
    const dx = tf.conv2d(dy4, flipped, 1, 'same'); // [B, H, W, Cin]
    const dk = convKernelGrad(xs, dy4, k); // [k, k, Cin, Cout]
    const db = tf.sum(dy4, [0, 1, 2]); // [Cout]
    return [dx, dk, db];
  };
  return { value, gradFunc };
}) as (x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D) => tf.Tensor4D;

/**
 * Kernel gradient of a stride-1 'same' convolution [k, k, Cin, Cout]. Uses the backend's
 * Conv2DBackpropFilter kernel where one exists, except on cpu, whose kernel runs element by
 * element in JavaScript (about 0.6 s for a 16x16x8 batch of 4). There, and where the kernel is
 * missing, it is one matrix product of image patches (im2col) with dy:
 * [k*k*Cin, B*H*W] x [B*H*W, Cout]; the patches come from a convolution with a fixed 0/1 kernel
 * (exact; the cpu backend's strided slices are slow too), and an explicit 2-D transpose keeps
 * the wasm backend off its slow transposed-matmul path. On wasm the native kernel measured
 * about 5x faster than this form for emoji-64.
 */
export function convKernelGrad(x: tf.Tensor4D, dy: tf.Tensor4D, k: number): tf.Tensor4D {
  const backend = tf.getBackend();
  if (backend !== 'cpu' && tf.getKernel('Conv2DBackpropFilter', backend)) {
    // tfjs-core does not export conv2DBackpropFilter as an op; call the kernel.
    return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, filterShape: [k, k, x.shape[3], dy.shape[3]] }) as tf.Tensor4D;
  }
  return convKernelGradIm2col(x, dy, k);
}

/** The im2col form of convKernelGrad (exported for its parity test). */
export function convKernelGradIm2col(x: tf.Tensor4D, dy: tf.Tensor4D, k: number): tf.Tensor4D {
  const [B, H, W, Cin] = x.shape; // batch, height, width, input channels
  const Cout = dy.shape[3];
  const patches = k === 1 ? x : tf.conv2d(x, patchKernel(k, Cin), 1, 'same'); // [B, H, W, k*k*Cin], offset-major
  const flat = tf.reshape(patches, [B * H * W, k * k * Cin]);
  const dk = tf.matMul(tf.transpose(flat), tf.reshape(dy, [B * H * W, Cout])); // [k*k*Cin, Cout]
  return tf.reshape(dk, [k, k, Cin, Cout]);
}

/** [k, k, Cin, k*k*Cin] with a single 1 per output channel: output (i*k + j)*Cin + c copies x[.., +i-p, +j-p, c]. */
function patchKernel(k: number, cin: number): tf.Tensor4D {
  const out = k * k * cin;
  const values = new Float32Array(k * k * cin * out);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      for (let c = 0; c < cin; c++) values[((i * k + j) * cin + c) * out + (i * k + j) * cin + c] = 1;
    }
  }
  return tf.tensor4d(values, [k, k, cin, out]);
}

/**
 * x + gain * conv2(relu(conv1(relu(x)))), with a 1x1 projection of x when widths differ.
 * `gain` (1 / number of blocks in the stack) keeps the sum's scale steady with depth.
 */
export function resBlock(x: tf.Tensor4D, params: DvaeParams, key: string, gain: number): tf.Tensor4D {
  const skip = params[`${key}.skip.kernel`] ? conv(x, params, `${key}.skip`) : x;
  const h = conv(tf.relu(x), params, `${key}.conv1`); // [B, H, W, Cout]
  const r = conv(tf.relu(h), params, `${key}.conv2`); // [B, H, W, Cout]
  return tf.add(skip, tf.mul(r, gain));
}

/** 2x2 max-pool, stride 2: [B, H, W, C] -> [B, H/2, W/2, C] (DALL-E's encoder downsampling). */
export function downsample(x: tf.Tensor4D): tf.Tensor4D {
  return tf.maxPool(x, 2, 2, 'valid');
}

/** Nearest-neighbour 2x upsampling: [B, H, W, C] -> [B, 2H, 2W, C] (DALL-E's decoder upsampling). */
export function upsample(x: tf.Tensor4D): tf.Tensor4D {
  const [, H, W] = x.shape; // batch, height, width, channels
  return tf.image.resizeNearestNeighbor(x, [2 * H, 2 * W]);
}
