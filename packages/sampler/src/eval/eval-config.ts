// dalle-eval settings: one config type, its defaults (each with the reason) and its validation.
// Sampling knobs come from SamplerConfig (config.ts); this adds what the evaluation itself chooses.
import { UsageError } from '@dalle/core';
import { MAX_IMAGES, SAMPLER_DEFAULTS, resolveSamplerConfig } from '../config.ts';

/** The evaluation's phases, in the order they run. */
export const EVAL_PHASES = ['dvae', 'transformer', 'clip', 'generation', 'sheet'] as const;
export type EvalPhase = (typeof EVAL_PHASES)[number];

/** Prompts of the contact sheet: held-out-style concepts plus DALL-E's famous compositional one. */
export const DEFAULT_SHEET_PROMPTS: readonly string[] = Object.freeze([
  'a red apple',
  'a smiling face',
  'a cat',
  'an avocado',
  'a dog',
  'a house',
  'a car',
  'an armchair shaped like an avocado',
]);

export interface EvalConfig {
  /** Held-out images to read from the image source (null: all of them). */
  limit: number | null;
  /** Captions ranked against each other in CLIP retrieval and generation R-precision. */
  groupSize: number;
  /** Held-out images in CLIP retrieval: the first clipImages, averaged over consecutive groups of groupSize. */
  clipImages: number;
  /** Held-out captions to generate for (R-precision ranks each image among these captions). */
  prompts: number;
  /** Candidates sampled per prompt; CLIP keeps the best one (SamplerConfig.numCandidates). */
  numCandidates: number;
  /** Sheet images per prompt. */
  perPrompt: number;
  /** Candidates sampled per sheet prompt, the best perPrompt shown (dalle-sample's default pool). */
  sheetCandidates: number;
  /** Sampler settings shared by generation and the sheet; undefined: what dalle-sample would use. */
  topK: number | undefined;
  topP: number | undefined;
  temperature: number | undefined;
  condScale: number | undefined;
  seed: number;
  /** Candidates sampled together (SamplerConfig.batchSize). */
  batchSize: number;
  /** Sequences per transformer / dVAE forward pass in the loss and reconstruction phases. */
  evalBatchSize: number;
  /** Seed of the caption derangement behind the shuffled-caption loss. */
  shuffleSeed: number;
  sheetPrompts: string[];
  skip: EvalPhase[];
}

export const EVAL_DEFAULTS: Readonly<Omit<EvalConfig, 'sheetPrompts' | 'skip'>> = Object.freeze({
  limit: null, // the whole held-out split: its metrics are the ones worth quoting
  groupSize: 100, // retrieval and R-precision "among 100", the usual protocol (CLIP, DALL-E R-precision)
  clipImages: 100, // one group: the first 100 held-out images (more: an average over groups of 100)
  prompts: 100, // one full group of 100 captions
  numCandidates: 8, // a small rerank pool: 100 prompts x 8 candidates stays affordable on a CPU
  perPrompt: 4, // one row of 4 per prompt: an 8 x 4 sheet
  sheetCandidates: SAMPLER_DEFAULTS.numCandidates, // the sheet shows what dalle-sample gives: the best of its default pool
  topK: undefined, // what dalle-sample users get: the weights' recommendation, else min(64, K)
  topP: undefined, // likewise, else 1
  temperature: undefined, // likewise, else 1
  condScale: undefined, // likewise: the weights' recommendation, else the sampler's default
  seed: SAMPLER_DEFAULTS.seed, // reproducible by default
  batchSize: SAMPLER_DEFAULTS.batchSize,
  evalBatchSize: 16, // loss passes: big enough to amortise a forward, small enough for any model here
  shuffleSeed: 0, // a fixed derangement, so the shuffled-caption loss is reproducible
});

/** Parses --skip "dvae,clip": known phase names only, naming the valid ones otherwise. */
export function parseSkip(value: string): EvalPhase[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const n of names) {
    if (!(EVAL_PHASES as readonly string[]).includes(n)) throw new UsageError(`--skip: unknown phase "${n}" (expected a comma list of ${EVAL_PHASES.join(', ')})`);
  }
  return [...new Set(names)] as EvalPhase[];
}

/** Copies `partial`, fills defaults and checks every range; throws UsageError naming the field. */
export function resolveEvalConfig(partial: Partial<EvalConfig> = {}): EvalConfig {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<EvalConfig>;
  const cfg: EvalConfig = { ...EVAL_DEFAULTS, sheetPrompts: [...DEFAULT_SHEET_PROMPTS], skip: [], ...defined };
  const count = (name: string, v: number, max = MAX_IMAGES) => {
    if (!Number.isInteger(v) || v < 1 || v > max) throw new UsageError(`${name} must be an integer in [1, ${max}], got ${v}`);
  };
  if (cfg.limit !== null) count('limit', cfg.limit, Number.MAX_SAFE_INTEGER);
  count('groupSize', cfg.groupSize);
  count('clipImages', cfg.clipImages, Number.MAX_SAFE_INTEGER);
  count('prompts', cfg.prompts, Number.MAX_SAFE_INTEGER);
  count('numCandidates', cfg.numCandidates);
  count('perPrompt', cfg.perPrompt);
  count('sheetCandidates', cfg.sheetCandidates);
  count('batchSize', cfg.batchSize);
  count('evalBatchSize', cfg.evalBatchSize);
  if (cfg.topK !== undefined) count('topK', cfg.topK, Number.MAX_SAFE_INTEGER);
  // The sampler's own checks (undefined fields take its defaults, which pass).
  resolveSamplerConfig({ topP: cfg.topP, temperature: cfg.temperature, condScale: cfg.condScale });
  for (const [name, v] of [['seed', cfg.seed], ['shuffleSeed', cfg.shuffleSeed]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new UsageError(`${name} must be an integer in [0, ${0xffffffff}], got ${v}`);
  }
  if (cfg.sheetPrompts.length === 0 || cfg.sheetPrompts.some((p) => p.trim() === '')) throw new UsageError('the sheet needs at least one prompt, none of them empty');
  cfg.skip = parseSkip(cfg.skip.join(','));
  return cfg;
}

/** Does the run include this phase? */
export function runsPhase(cfg: Pick<EvalConfig, 'skip'>, phase: EvalPhase): boolean {
  return !cfg.skip.includes(phase);
}
