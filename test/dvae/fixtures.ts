// Synthetic images for dVAE tests: flat backgrounds with one coloured rectangle each, drawn
// deterministically from a seed (structured like emoji, unlike noise, so they can be learned).
import { Rng } from '@dalle/core';

export function syntheticImages(count: number, size: number, seed = 1): Float32Array[] {
  const rng = new Rng(seed);
  const out: Float32Array[] = [];
  for (let n = 0; n < count; n++) {
    const img = new Float32Array(size * size * 3);
    const bg = [rng.next(), rng.next(), rng.next()];
    const fg = [rng.next(), rng.next(), rng.next()];
    const x0 = rng.int(size / 2);
    const y0 = rng.int(size / 2);
    const w = 2 + rng.int(size / 2);
    const h = 2 + rng.int(size / 2);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = x >= x0 && x < x0 + w && y >= y0 && y < y0 + h;
        for (let c = 0; c < 3; c++) img[(y * size + x) * 3 + c] = inside ? fg[c] : bg[c];
      }
    }
    out.push(img);
  }
  return out;
}
