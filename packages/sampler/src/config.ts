// Sampler settings: one config type, its defaults (each with the reason) and its validation.
// Follows the sampling knobs of DALLE-pytorch / min-dalle, with standard meanings (STYLE.md #3).
import { UsageError } from '@dalle/core';

export interface SamplerConfig {
  /** Images kept and returned, best first. */
  n: number;
  /** Images sampled and scored by the reranker; the best `n` of them are kept. */
  numCandidates: number;
  /** Keep only the `topK` most likely image codes at each step (an integer count in [1, K]). */
  topK: number;
  /** Nucleus sampling: keep the smallest set of codes whose probability mass is >= topP, in (0, 1]. */
  topP: number;
  /** Logits are divided by this before filtering; < 1 sharpens, > 1 flattens. */
  temperature: number;
  /** Classifier-free guidance: logits = uncond + condScale * (cond - uncond); 1 turns it off. */
  condScale: number;
  /** Candidates sampled together in one decoder batch (bounds memory; doubled when guided). */
  batchSize: number;
  /** Base seed; candidate c samples with seed + c, so each image can be regenerated alone. */
  seed: number;
}

/** Upper bound on n / numCandidates / batchSize: beyond this a typo is likelier than intent. */
export const MAX_IMAGES = 1024;

export const SAMPLER_DEFAULTS: Readonly<SamplerConfig> = Object.freeze({
  n: 8, // a 3x3-ish contact sheet: enough variety to pick from, quick on a CPU
  numCandidates: 32, // 4x n: reranking needs a pool to choose from (DALL-E used 512 for 32)
  topK: 64, // 1/8 of the shipped 512-code book: cuts the noisy tail but keeps variety (capped at K)
  topP: 1, // off by default: top-k already trims the tail
  temperature: 1, // the model's own distribution
  condScale: 3, // min-dalle's supercondition factor range; clearly better prompt adherence than 1
  batchSize: 32, // all default candidates in one batch (64 rows when guided): on a CPU each kernel call has a fixed cost, so 4 batches of 8 took 1.2-1.5x as long; the cache stays under 100 MB on the shipped model
  seed: 0, // deterministic by default: reruns give identical images
});

/**
 * The settings a weights folder may recommend for its own model (manifest.json "sampling"):
 * the knobs that shape the sampled distribution, whose best values depend on how the model was
 * trained (e.g. a guidance scale). They sit between SAMPLER_DEFAULTS and the caller's options.
 */
export const MODEL_SAMPLING_KEYS = ['topK', 'topP', 'temperature', 'condScale'] as const;
export type ModelSampling = Partial<Pick<SamplerConfig, (typeof MODEL_SAMPLING_KEYS)[number]>>;

/**
 * Checks a manifest's "sampling" object: only MODEL_SAMPLING_KEYS, each a number in its range.
 * `where` names the source in errors (e.g. "weights/manifest.json \"sampling\"").
 */
export function parseModelSampling(value: unknown, where: string): ModelSampling {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`${where}: expected an object such as {"condScale": 2}`);
  const out: ModelSampling = {};
  for (const [key, v] of Object.entries(value)) {
    if (!(MODEL_SAMPLING_KEYS as readonly string[]).includes(key)) {
      throw new UsageError(`${where}: unknown setting "${key}" (a weights folder may set ${MODEL_SAMPLING_KEYS.join(', ')})`);
    }
    if (typeof v !== 'number') throw new UsageError(`${where}: ${key} must be a number, got ${JSON.stringify(v)}`);
    out[key as keyof ModelSampling] = v;
  }
  try {
    resolveSamplerConfig(out);
  } catch (err) {
    throw new UsageError(`${where}: ${(err as Error).message}`);
  }
  return out;
}

/** Facts about the loaded model that bound some settings. */
export interface SamplerLimits {
  /** Image codebook size K (upper bound of topK). */
  codebookSize: number;
}

function isInt(v: number): boolean {
  return Number.isInteger(v);
}

/** The fields of `o` named in `keys` whose values are not undefined. */
function definedFields(o: object, keys: readonly string[]): Record<string, unknown> {
  const rec = o as Record<string, unknown>;
  return Object.fromEntries(keys.filter((k) => rec[k] !== undefined).map((k) => [k, rec[k]]));
}

/**
 * Copies `partial`, fills defaults and checks every range; throws UsageError naming the field,
 * the expected range and the value that arrived. A field left undefined takes the model's
 * recommendation (`model`, from its weights folder) if there is one, else SAMPLER_DEFAULTS.
 * Without any explicit topK the default is capped at the codebook size (a tiny model may have
 * fewer than 64 codes); an explicit topK outside [1, K] is an error.
 */
export function resolveSamplerConfig(partial: Partial<SamplerConfig> = {}, limits?: SamplerLimits, model: ModelSampling = {}): SamplerConfig {
  // Only the config's own fields (callers may pass a larger options object); undefined means default.
  const defined = definedFields(partial, Object.keys(SAMPLER_DEFAULTS)) as Partial<SamplerConfig>;
  const recommended = definedFields(model, MODEL_SAMPLING_KEYS) as ModelSampling;
  const cfg: SamplerConfig = { ...SAMPLER_DEFAULTS, ...recommended, ...defined };
  if (defined.topK === undefined && recommended.topK === undefined && limits) cfg.topK = Math.min(SAMPLER_DEFAULTS.topK, limits.codebookSize);
  // n defaults to min(8, numCandidates) when only the candidates were lowered, and the
  // candidate pool grows to n when only n was raised: a lone flag never contradicts a default.
  if (defined.n === undefined && defined.numCandidates !== undefined) cfg.n = Math.min(SAMPLER_DEFAULTS.n, cfg.numCandidates);
  if (defined.numCandidates === undefined && defined.n !== undefined) cfg.numCandidates = Math.max(SAMPLER_DEFAULTS.numCandidates, cfg.n);

  const countOk = (v: number) => isInt(v) && v >= 1 && v <= MAX_IMAGES;
  if (!countOk(cfg.n)) throw new UsageError(`n must be an integer in [1, ${MAX_IMAGES}], got ${cfg.n}`);
  if (!countOk(cfg.numCandidates)) throw new UsageError(`numCandidates must be an integer in [1, ${MAX_IMAGES}], got ${cfg.numCandidates}`);
  if (cfg.n > cfg.numCandidates) throw new UsageError(`n (${cfg.n}) cannot exceed numCandidates (${cfg.numCandidates}): the best n are chosen among the candidates`);
  if (!countOk(cfg.batchSize)) throw new UsageError(`batchSize must be an integer in [1, ${MAX_IMAGES}], got ${cfg.batchSize}`);
  const maxK = limits?.codebookSize ?? Number.MAX_SAFE_INTEGER;
  if (!isInt(cfg.topK) || cfg.topK < 1 || cfg.topK > maxK) {
    throw new UsageError(`topK must be an integer in [1, ${limits ? `${maxK} (the codebook size)` : 'K'}], got ${cfg.topK}`);
  }
  if (!(cfg.topP > 0 && cfg.topP <= 1)) throw new UsageError(`topP must be in (0, 1], got ${cfg.topP}`);
  if (!(cfg.temperature > 0) || !Number.isFinite(cfg.temperature)) throw new UsageError(`temperature must be a finite number > 0, got ${cfg.temperature}`);
  if (!Number.isFinite(cfg.condScale)) throw new UsageError(`condScale must be a finite number, got ${cfg.condScale}`);
  if (!isInt(cfg.seed) || cfg.seed < 0 || cfg.seed > 0xffffffff) throw new UsageError(`seed must be an integer in [0, ${0xffffffff}], got ${cfg.seed}`);
  return cfg;
}

/** Whether sampling runs the doubled (caption + empty caption) batch. */
export function isGuided(cfg: Pick<SamplerConfig, 'condScale'>): boolean {
  return cfg.condScale !== 1;
}

/** The sampling seed of candidate `index` (reported per image; reruns it alone with -n 1). */
export function candidateSeed(cfg: Pick<SamplerConfig, 'seed'>, index: number): number {
  return (cfg.seed + index) >>> 0;
}
