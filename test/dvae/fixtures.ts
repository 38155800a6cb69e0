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

/** Writes `count` synthetic PNGs with two captions each as an image+.txt folder source. */
export async function writeImageFolder(dir: string, count: number, size: number, seed = 3): Promise<void> {
  const { promises: fsp } = await import('node:fs');
  const { encodePng } = await import('@dalle/core');
  await fsp.mkdir(dir, { recursive: true });
  const images = syntheticImages(count, size, seed);
  for (let i = 0; i < count; i++) {
    await fsp.writeFile(`${dir}/img${i}.png`, await encodePng(images[i], size, size));
    await fsp.writeFile(`${dir}/img${i}.txt`, `a box number ${i}\nthe box ${i}`);
  }
}

/** Runs one of this package's commands; resolves with its exit code and output. */
export function runBin(name: string, args: string[], options: { onStderr?: (text: string, child: import('node:child_process').ChildProcess) => void } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return import('node:child_process').then(
    ({ spawn }) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [new URL(`../../packages/dvae/bin/${name}.js`, import.meta.url).pathname, ...args], {
          env: { ...process.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => {
          stderr += d;
          options.onStderr?.(stderr, child);
        });
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      }),
  );
}
