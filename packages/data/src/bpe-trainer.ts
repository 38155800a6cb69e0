// Byte-level BPE training (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with
// Subword Units"; byte-level alphabet and pre-tokenizer regex as in GPT-2), producing a
// Hugging Face tokenizer.json that transformers.js loads. Every byte is in the base vocabulary,
// so any text (emoji, unknown scripts) encodes without [UNK].
import { UsageError } from '@dalle/core';

export const PAD_TOKEN = '[PAD]';
export const UNK_TOKEN = '[UNK]';
/** [PAD] = 0 and [UNK] = 1, then the 256 byte symbols, then merges. */
export const SPECIAL_TOKENS = [PAD_TOKEN, UNK_TOKEN] as const;
export const MIN_VOCAB_SIZE = SPECIAL_TOKENS.length + 256;

/** The GPT-2 pre-tokenizer split, identical to transformers.js's ByteLevel pre-tokenizer. */
const PRE_TOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible byte -> printable character map (printable Latin-1 maps to itself). */
export function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const table = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = keep.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  return table;
}

const BYTE_CHARS = bytesToUnicode();
const encoder = new TextEncoder();

/** Splits normalised text into byte-level words (each a string of byte symbols). */
export function byteLevelWords(text: string): string[] {
  return (text.match(PRE_TOKENIZE) ?? []).map((w) => Array.from(encoder.encode(w), (b) => BYTE_CHARS[b]).join(''));
}

export interface BpeTrainOptions {
  /** Target vocabulary size including [PAD], [UNK] and the 256 byte symbols. */
  vocabSize: number;
  /** A pair must occur at least this often (weighted by word frequency) to be merged. */
  minFrequency?: number;
  /** Called after each merge with (merges done, merges wanted). */
  onMerge?: (done: number, wanted: number) => void;
}

export interface BpeModel {
  /** Token strings in id order. */
  vocab: string[];
  /** Merges in rank order, as "left right". */
  merges: string[];
}

/**
 * Learns merges greedily: repeatedly joins the most frequent adjacent pair (ties broken by the
 * pair's text, so training is deterministic) until vocabSize is reached or no pair is frequent
 * enough. Pair counts are updated incrementally for the words that contain the merged pair.
 */
export function trainBpe(texts: Iterable<string>, options: BpeTrainOptions): BpeModel {
  const { vocabSize, minFrequency = 2, onMerge } = options;
  if (!Number.isInteger(vocabSize) || vocabSize < MIN_VOCAB_SIZE || vocabSize > 65535) {
    throw new UsageError(`vocabSize must be an integer in [${MIN_VOCAB_SIZE}, 65535] (specials + 256 bytes, uint16 ids), got ${vocabSize}`);
  }
  const wordFreq = new Map<string, number>();
  for (const t of texts) for (const w of byteLevelWords(t)) wordFreq.set(w, (wordFreq.get(w) ?? 0) + 1);

  const words: string[][] = [];
  const freqs: number[] = [];
  for (const [w, f] of [...wordFreq].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    words.push([...w]);
    freqs.push(f);
  }
  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const SEP = '\u0000'; // never a byte symbol
  const addPairs = (wi: number, sign: 1 | -1) => {
    const syms = words[wi];
    for (let i = 0; i + 1 < syms.length; i++) {
      const p = syms[i] + SEP + syms[i + 1];
      pairCount.set(p, (pairCount.get(p) ?? 0) + sign * freqs[wi]);
      if (sign > 0) {
        let set = pairWords.get(p);
        if (!set) pairWords.set(p, (set = new Set()));
        set.add(wi);
      }
    }
  };
  words.forEach((_, wi) => addPairs(wi, 1));

  const vocab: string[] = [...SPECIAL_TOKENS, ...BYTE_CHARS];
  const known = new Set(vocab);
  const merges: string[] = [];
  while (vocab.length < vocabSize) {
    let best: string | undefined;
    let bestCount = 0;
    for (const [p, c] of pairCount) {
      if (c > bestCount || (c === bestCount && best !== undefined && p < best)) {
        best = p;
        bestCount = c;
      }
    }
    if (best === undefined || bestCount < minFrequency) break;
    const [left, right] = best.split(SEP);
    const merged = left + right;
    merges.push(`${left} ${right}`);
    if (!known.has(merged)) {
      known.add(merged);
      vocab.push(merged);
    }
    for (const wi of pairWords.get(best) ?? []) {
      const syms = words[wi];
      let hit = false;
      for (let i = 0; i + 1 < syms.length; i++) if (syms[i] === left && syms[i + 1] === right) hit = true;
      if (!hit) continue;
      addPairs(wi, -1);
      const next: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === left && syms[i + 1] === right) {
          next.push(merged);
          i++;
        } else next.push(syms[i]);
      }
      words[wi] = next;
      addPairs(wi, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
    onMerge?.(merges.length, vocabSize - MIN_VOCAB_SIZE);
    for (const [p, c] of pairCount) if (c <= 0) pairCount.delete(p);
  }
  return { vocab, merges };
}

/** The Hugging Face tokenizer.json for a byte-level BPE model with [PAD] = 0 and [UNK] = 1. */
export function bpeTokenizerJson(model: BpeModel): Record<string, unknown> {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Strip', strip_left: true, strip_right: true }],
    },
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: UNK_TOKEN,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(model.vocab.map((t, i) => [t, i])),
      merges: model.merges,
    },
  };
}
