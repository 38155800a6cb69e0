import { strict as assert } from 'node:assert';
import { float16BitsToFloat32, float32ToFloat16Bits, fromFloat16Array, toFloat16Array } from '@dalle/core';

describe('float16', () => {
  it('encodes exactly representable values exactly, including subnormals and signs', () => {
    for (const v of [0, 1, -1, 0.5, 65504, -65504, 2 ** -14, 2 ** -24, 3 * 2 ** -24, 1025, 0.333251953125]) {
      assert.equal(float16BitsToFloat32(float32ToFloat16Bits(v)), v, String(v));
    }
    assert.equal(float32ToFloat16Bits(-0), 0x8000);
  });

  it('rounds to nearest with relative error <= 2^-11 in the normal range', () => {
    for (let i = 0; i < 2000; i++) {
      const v = (Math.random() - 0.5) * 2 ** (Math.floor(Math.random() * 28) - 13);
      if (Math.abs(v) < 2 ** -14) continue;
      const back = float16BitsToFloat32(float32ToFloat16Bits(v));
      assert.ok(Math.abs(back - v) <= Math.abs(v) * 2 ** -11 * 1.0001, `${v} -> ${back}`);
    }
  });

  it('maps overflow to infinity and keeps NaN', () => {
    assert.equal(float16BitsToFloat32(float32ToFloat16Bits(1e6)), Infinity);
    assert.equal(float16BitsToFloat32(float32ToFloat16Bits(-Infinity)), -Infinity);
    assert.ok(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN))));
    assert.equal(float16BitsToFloat32(float32ToFloat16Bits(65520)), Infinity); // halfway above max rounds to even -> Inf
  });

  it('fromFloat16Array widens all 65,536 bit patterns exactly as float16BitsToFloat32, and toFloat16Array inverts it', () => {
    const bits = Uint16Array.from({ length: 65536 }, (_, h) => h);
    const wide = fromFloat16Array(bits);
    for (let h = 0; h < 65536; h++) {
      const want = float16BitsToFloat32(h);
      assert.ok(Object.is(wide[h], Math.fround(want)) || (Number.isNaN(want) && Number.isNaN(wide[h])), `0x${h.toString(16)}: ${wide[h]} vs ${want}`);
    }
    const back = toFloat16Array(wide);
    for (let h = 0; h < 65536; h++) if (!Number.isNaN(wide[h])) assert.equal(back[h], h, `0x${h.toString(16)}`);
  });
});
