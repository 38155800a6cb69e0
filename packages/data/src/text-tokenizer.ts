// The text tokenizer: caption normalisation, training + saving a byte-level BPE folder
// (tokenizer.json + tokenizer_config.json), and loading it through transformers.js, offline.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { UsageError, sha256, writeDirAtomic, writeFileAtomic } from '@dalle/core';
import { PAD_TOKEN, UNK_TOKEN, bpeTokenizerJson, trainBpe, type BpeTrainOptions } from './bpe-trainer.ts';

export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
/** About 4k tokens cover the emoji captions (shared DATA.md). */
export const DEFAULT_TEXT_VOCAB_SIZE = 4096;

export interface TextTokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  /** sha256 of tokenizer.json: token datasets and weights record it to catch a swapped tokenizer. */
  readonly identity: string;
  /** Normalises (normalizeCaption) then encodes; no special tokens, no padding, no truncation. */
  encode(text: string): number[];
  decode(ids: number[]): string;
}

/** NFKC, lower case, runs of whitespace to one space, trimmed: the form captions are trained in. */
export function normalizeCaption(text: string): string {
  return text.normalize('NFKC').toLowerCase().normalize('NFKC').replace(/\s+/g, ' ').trim();
}

/** ids padded with padId / truncated to textSeqLen. */
export function encodeText(tok: TextTokenizer, text: string, textSeqLen: number): { ids: Int32Array; truncated: boolean } {
  if (!Number.isInteger(textSeqLen) || textSeqLen < 1) throw new UsageError(`textSeqLen must be a positive integer, got ${textSeqLen}`);
  const raw = tok.encode(text);
  const ids = new Int32Array(textSeqLen).fill(tok.padId);
  ids.set(raw.slice(0, textSeqLen));
  return { ids, truncated: raw.length > textSeqLen };
}

export interface TrainTokenizerOptions extends Partial<BpeTrainOptions> {
  outDir: string;
  /** Written to tokenizer_config.json as model_max_length (informational). */
  textSeqLen?: number;
}

export interface TrainedTokenizerInfo {
  vocabSize: number;
  merges: number;
  captions: number;
  identity: string;
}

/** Trains byte-level BPE on normalised captions and writes the tokenizer folder atomically. */
export async function trainTextTokenizer(captions: Iterable<string>, options: TrainTokenizerOptions): Promise<TrainedTokenizerInfo> {
  const normalized: string[] = [];
  for (const c of captions) {
    const n = normalizeCaption(c);
    if (n.length > 0) normalized.push(n);
  }
  if (normalized.length === 0) throw new UsageError('no captions to train the tokenizer on (every caption was empty)');
  const model = trainBpe(normalized, { vocabSize: options.vocabSize ?? DEFAULT_TEXT_VOCAB_SIZE, minFrequency: options.minFrequency, onMerge: options.onMerge });
  const json = JSON.stringify(bpeTokenizerJson(model));
  const config = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    pad_token: PAD_TOKEN,
    unk_token: UNK_TOKEN,
    model_max_length: options.textSeqLen ?? 32,
    clean_up_tokenization_spaces: false,
    add_prefix_space: false,
  };
  await writeDirAtomic(options.outDir, async (tmp) => {
    await writeFileAtomic(path.join(tmp, TOKENIZER_FILE), json);
    await writeFileAtomic(path.join(tmp, TOKENIZER_CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
  });
  return { vocabSize: model.vocab.length, merges: model.merges.length, captions: normalized.length, identity: sha256(json) };
}

interface HfTokenizer {
  encode(text: string, pair?: string | null, options?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], options?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean }): string;
  model: { vocab: string[] };
}

// transformers.js keeps its settings in one global object; loads are serialised and the previous
// settings restored, so another package's model folder (e.g. CLIP's) is left as it was.
let loadChain: Promise<unknown> = Promise.resolve();

/** Loads a tokenizer folder through @xenova/transformers AutoTokenizer, never touching the network. */
export async function loadTextTokenizer(dir: string): Promise<TextTokenizer> {
  const abs = path.resolve(dir);
  const file = path.join(abs, TOKENIZER_FILE);
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
    await fsp.access(path.join(abs, TOKENIZER_CONFIG_FILE));
  } catch {
    throw new UsageError(`not a tokenizer folder: ${abs} (expected ${TOKENIZER_FILE} and ${TOKENIZER_CONFIG_FILE}; train one with tokenizer-train)`);
  }
  const { AutoTokenizer, env } = await import('@xenova/transformers');
  const load = loadChain.then(async () => {
    const saved = { allowRemoteModels: env.allowRemoteModels, allowLocalModels: env.allowLocalModels, localModelPath: env.localModelPath };
    try {
      env.allowRemoteModels = false;
      env.allowLocalModels = true;
      env.localModelPath = path.dirname(abs) + path.sep;
      return (await AutoTokenizer.from_pretrained(path.basename(abs))) as unknown as HfTokenizer;
    } finally {
      Object.assign(env, saved);
    }
  });
  loadChain = load.catch(() => undefined);
  const hf = await load;
  const vocabSize = hf.model.vocab.length;
  if (hf.model.vocab[0] !== PAD_TOKEN || hf.model.vocab[1] !== UNK_TOKEN) {
    throw new UsageError(`${file}: expected ${PAD_TOKEN} at id 0 and ${UNK_TOKEN} at id 1, got "${hf.model.vocab[0]}" and "${hf.model.vocab[1]}"`);
  }
  const identity = sha256(bytes);
  return {
    vocabSize,
    padId: 0,
    identity,
    encode: (text) => hf.encode(normalizeCaption(text), null, { add_special_tokens: false }),
    decode: (ids) => (ids.length === 0 ? '' : hf.decode(Array.from(ids), { skip_special_tokens: true, clean_up_tokenization_spaces: false })),
  };
}
