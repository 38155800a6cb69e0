// The one config of CLIP-guided generation: defaults (each with the reason for it), validation and
// the temperature schedule. Follows the VQGAN+CLIP recipe (Crowson et al. 2022) on a dVAE's
// Gumbel-softmax relaxed code grid instead of a VQGAN's continuous latents.
import { UsageError } from '@dalle/core';

export interface GuideConfig {
  /** Adam updates of the grid logits; 0 returns the initial codes unchanged. */
  steps: number;
  /** Adam learning rate on the logits. */
  lr: number;
  /** Seed of the initial logits, the Gumbel noise and the augmentations. */
  seed: number;
  /** Images optimised together (one batch). */
  n: number;
  /** Augmented views (cutouts) of each image per step, whose CLIP scores are averaged. */
  cutouts: number;
  /** Smallest crop side as a fraction of the image side; crops range over [cropMin, 1]. */
  cropMin: number;
  /** Largest shift of a crop, as a fraction of the image side (edges are repeated). */
  shift: number;
  /** Probability that a cutout is mirrored left-right. */
  flipProb: number;
  /** Gumbel-softmax temperature at the first step. */
  tauStart: number;
  /** Gumbel-softmax temperature at the last step (annealed geometrically from tauStart). */
  tauEnd: number;
  /** Standard deviation of the random initial logits (without initial codes). */
  initStd: number;
  /** Height of the one-hot initial logits built from initial codes. */
  initScale: number;
  /** Report the hard-decoded images every this many steps (and at step 0); 0 never. */
  frameEvery: number;
}

export const GUIDE_DEFAULTS: GuideConfig = {
  steps: 100, // VQGAN+CLIP runs hundreds; 100 keeps a 64 px run within minutes on 2 CPU cores
  lr: 0.2, // Adam moves each logit by about lr per step: a cell's code can change within tens of steps, not in one
  seed: 0, // deterministic by default: reruns give identical images
  n: 4, // a few candidates; the CLI writes them best first, as dalle-sample does
  cutouts: 8, // VQGAN+CLIP uses 32-64 at 224 px; 8 keeps a step cheap on 2 CPU cores and still averages out single views
  cropMin: 0.6, // crops of 60-100% of the side: large enough for a 64 px emoji to stay recognisable
  shift: 1 / 16, // a few pixels at 64 px: breaks CLIP's sensitivity to exact pixel positions
  flipProb: 0.5, // mirrored views half of the time, so a prompt cannot be met by one-sided artefacts
  tauStart: 1, // a soft mixture of codes at first, so gradients reach every code
  tauEnd: 1 / 16, // nearly one-hot at the end, so the argmax codes decode to what was optimised
  initStd: 1, // unit-scale logits: every code starts with a real chance under temperature 1
  initScale: 10, // softmax(10 * onehot) puts 98% on the image's code at K=512; Gumbel noise (max over 511 codes about 6-8) rarely flips it at first
  frameEvery: 0, // frames cost a decode and a copy each; only when asked
};

/** Most images one run optimises together (memory of the batch of cutouts). */
export const MAX_IMAGES = 64;

function checkInt(name: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new UsageError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
}

function checkNum(name: string, v: unknown, ok: (x: number) => boolean, rule: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new UsageError(`${name} must be ${rule}, got ${JSON.stringify(v)}`);
}

/** Copies `partial` over the defaults and checks every field; throws a UsageError naming the field. */
export function resolveGuideConfig(partial: Partial<GuideConfig> = {}): GuideConfig {
  const known = new Set(Object.keys(GUIDE_DEFAULTS));
  for (const k of Object.keys(partial)) if (!known.has(k)) throw new UsageError(`unknown guide config field "${k}" (known: ${[...known].join(', ')})`);
  const c: GuideConfig = { ...GUIDE_DEFAULTS };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  checkInt('steps', c.steps, 0, 1_000_000);
  checkNum('lr', c.lr, (x) => x > 0, 'a number > 0');
  checkInt('seed', c.seed, 0, 0xffffffff);
  checkInt('n', c.n, 1, MAX_IMAGES);
  checkInt('cutouts', c.cutouts, 1, 256);
  checkNum('cropMin', c.cropMin, (x) => x > 0 && x <= 1, 'in (0, 1]');
  checkNum('shift', c.shift, (x) => x >= 0 && x <= 0.5, 'in [0, 0.5]');
  checkNum('flipProb', c.flipProb, (x) => x >= 0 && x <= 1, 'in [0, 1]');
  checkNum('tauStart', c.tauStart, (x) => x > 0, 'a number > 0');
  checkNum('tauEnd', c.tauEnd, (x) => x > 0 && x <= c.tauStart, `in (0, tauStart = ${c.tauStart}]`);
  checkNum('initStd', c.initStd, (x) => x >= 0, 'a number >= 0');
  checkNum('initScale', c.initScale, (x) => x > 0, 'a number > 0');
  checkInt('frameEvery', c.frameEvery, 0, 1_000_000);
  return c;
}

/** Temperature of update `step` (0-based): tauStart at the first, tauEnd at the last, geometric in between. */
export function temperatureAt(cfg: GuideConfig, step: number): number {
  if (cfg.steps <= 1) return cfg.tauStart;
  const t = Math.min(1, Math.max(0, step / (cfg.steps - 1)));
  return cfg.tauStart * (cfg.tauEnd / cfg.tauStart) ** t;
}
