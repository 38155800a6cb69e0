// Shared fixtures for the CLIP tests: the tiny config, 8 synthetic image/caption pairs (a colour
// and a shape each), and a tiny word-level tokenizer folder that transformers.js loads offline.
import { promises as fsp, rmSync } from 'node:fs';
import * as path from 'node:path';
import { CLIP_PRESETS, type ClipConfig } from '@dalle/clip';

export const COLOURS = ['red', 'green', 'blue', 'yellow'] as const;
export const SHAPES = ['square', 'circle'] as const;
const RGB: Record<(typeof COLOURS)[number], [number, number, number]> = { red: [1, 0, 0], green: [0, 1, 0], blue: [0, 0, 1], yellow: [1, 1, 0] };

/** Vocabulary: [PAD]=0, [UNK]=1, then the words (so ids never collide with the pad id). */
export const WORDS = ['[PAD]', '[UNK]', 'a', ...COLOURS, ...SHAPES, 'photo', 'of'];

export function tinyConfig(over: Partial<ClipConfig> = {}): Partial<ClipConfig> {
  return { ...CLIP_PRESETS.tiny, textVocabSize: WORDS.length, ...over };
}

export interface Pair {
  caption: string;
  image: Float32Array; // HWC, size x size x 3, multiples of 1/255
}

/** 8 pairs: each colour as a filled square and as a disc on a grey background. */
export function syntheticPairs(size: number): Pair[] {
  const pairs: Pair[] = [];
  for (const colour of COLOURS) {
    for (const shape of SHAPES) {
      const img = new Float32Array(size * size * 3);
      const c = (size - 1) / 2;
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const inside = shape === 'square' ? Math.abs(x - c) <= size * 0.3 && Math.abs(y - c) <= size * 0.3 : (x - c) ** 2 + (y - c) ** 2 <= (size * 0.35) ** 2;
          const rgb = inside ? RGB[colour] : [128 / 255, 128 / 255, 128 / 255];
          for (let k = 0; k < 3; k++) img[(y * size + x) * 3 + k] = rgb[k];
        }
      }
      pairs.push({ caption: `a ${colour} ${shape}`, image: img });
    }
  }
  return pairs;
}

/** Word ids of a caption, padded with 0 to `len` (the same ids the tiny tokenizer produces). */
export function wordIds(caption: string, len: number): number[] {
  const ids = caption.split(/\s+/).filter(Boolean).map((w) => Math.max(1, WORDS.indexOf(w)));
  const out = ids.slice(0, len);
  while (out.length < len) out.push(0);
  return out;
}

/** Writes tokenizer.json + tokenizer_config.json of a whitespace word-level (WordPiece without subwords) tokenizer. */
export async function writeTinyTokenizer(dir: string, maxLength: number): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const vocab = Object.fromEntries(WORDS.map((w, i) => [w, i]));
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: 0, content: '[PAD]', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 1, content: '[UNK]', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  const config = { tokenizer_class: 'PreTrainedTokenizerFast', pad_token: '[PAD]', unk_token: '[UNK]', model_max_length: maxLength, clean_up_tokenization_spaces: true };
  await fsp.writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  await fsp.writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
}

/** Writes the synthetic pairs as `<colour>-<shape>.png` + `.txt` (a folder image source). Returns the file paths. */
export async function writeSyntheticFolder(dir: string, size: number): Promise<string[]> {
  const { encodePng } = await import('@dalle/core');
  await fsp.mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const p of syntheticPairs(size)) {
    const key = p.caption.replace(/^a /, '').replace(/ /g, '-');
    await fsp.writeFile(path.join(dir, `${key}.png`), await encodePng(p.image, size, size));
    await fsp.writeFile(path.join(dir, `${key}.txt`), `${p.caption}\n`);
    files.push(path.join(dir, `${key}.png`));
  }
  return files;
}

export const TRAIN_STEPS = 40;

let trained: Promise<{ root: string; run: string; exported: string; tokenizer: string; data: string; files: string[] }> | undefined;

/**
 * A tiny CLIP trained by trainClipRun on the 8 synthetic pairs and exported to the transformers.js
 * layout, shared by the test files of one mocha run (trained once). Removed at process exit.
 */
export function trainedTinyClip(): Promise<{ root: string; run: string; exported: string; tokenizer: string; data: string; files: string[] }> {
  trained ??= (async () => {
    const { trainClipRun } = await import('@dalle/clip');
    const os = await import('node:os');
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'clip-trained-'));
    process.on('exit', () => rmSync(root, { recursive: true, force: true })); // synchronous: 'exit' runs no async work
    const cfg = tinyConfig();
    const tokenizer = path.join(root, 'tok');
    const data = path.join(root, 'data');
    await writeTinyTokenizer(tokenizer, cfg.textSeqLen!);
    const files = await writeSyntheticFolder(data, cfg.imageSize!);
    const run = path.join(root, 'run');
    const exported = path.join(root, 'export');
    await trainClipRun({
      data,
      tokenizerDir: tokenizer,
      outDir: run,
      config: cfg,
      steps: TRAIN_STEPS,
      batchSize: 8,
      learningRate: 3e-3,
      warmupSteps: 10,
      weightDecay: 0,
      checkpointEvery: 20,
      logEvery: 10,
      seed: 5,
      resume: false,
      exportDir: exported,
      quiet: true,
      log: () => {},
    });
    return { root, run, exported, tokenizer, data, files };
  })();
  return trained;
}
