// Assembles the shipped weights folder from a finished training run: copies the exported parts
// (tokenizer/, dvae/, transformer/, clip/), stores the transformer's and CLIP's floats as F16, and writes manifest.json
// (data and licences, configs, steps, wall time, metrics, sha256 per file). Writes atomically.
// Usage: tsx scripts/assemble-weights.ts --run runs/default [--out weights] [--eval docs/eval/eval.json]
//   [--data data/emoji[,data/emoji-fluent]]  the dataset folder(s) the parts were trained on: their
//                                      manifests give the sources, counts and licences recorded
//   [--transformer DIR] [--clip DIR]   parts from other exports than $RUN/export/<part> (e.g. a warm-started run)
//   [--sampling '{"condScale": 2}']    sampler settings recommended for these weights (manifest "sampling"),
//                                      which dalle-sample and dalle-eval use unless flags say otherwise
// $RUN/history.json, when present, goes into the manifest as `training`: how each part was trained
// (runs, steps, settings), which the parts' own info cannot tell for warm-started runs.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { readSafetensors, sha256File, writeDirAtomic, encodeSafetensors } from '@dalle/core';
import { EMOJI_SET_STYLES } from '@dalle/data';
import { parseModelSampling } from '@dalle/sampler';

const { values } = parseArgs({
  options: {
    run: { type: 'string', default: 'runs/default' },
    out: { type: 'string', default: 'weights' },
    eval: { type: 'string' },
    data: { type: 'string', default: 'data/emoji' },
    transformer: { type: 'string' },
    clip: { type: 'string' },
    sampling: { type: 'string' },
  },
});
const run = values.run!;
let sampling: Record<string, number> | undefined;
if (values.sampling !== undefined) {
  try {
    sampling = parseModelSampling(JSON.parse(values.sampling), '--sampling');
  } catch (err) {
    console.error(`assemble-weights: ${err instanceof SyntaxError ? `--sampling is not JSON: ${values.sampling}` : (err as Error).message}`);
    process.exit(2);
  }
}
const exportDir = path.join(run, 'export');
const PARTS = ['tokenizer', 'dvae', 'transformer', 'clip'] as const;

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p, base)));
    else out.push(path.relative(base, p));
  }
  return out.sort();
}

/**
 * Copies a part folder, re-encoding model.safetensors with F16 floats when `half`. The dVAE stays
 * F32: its identity hash covers its float32 weights, and token datasets and the transformer record it.
 */
async function copyPart(src: string, dst: string, half: boolean): Promise<void> {
  await fsp.mkdir(dst, { recursive: true });
  for (const rel of await listFiles(src)) {
    const from = path.join(src, rel);
    const to = path.join(dst, rel);
    await fsp.mkdir(path.dirname(to), { recursive: true });
    if (half && path.basename(rel) === 'model.safetensors') {
      const { tensors, metadata } = await readSafetensors(from);
      await fsp.writeFile(to, encodeSafetensors(tensors, { dtype: 'F16', metadata }));
    } else {
      await fsp.copyFile(from, to);
    }
  }
}

const sources: Record<string, string> = {
  tokenizer: path.join(run, 'tokenizer'),
  dvae: path.join(exportDir, 'dvae'),
  transformer: values.transformer ?? path.join(exportDir, 'transformer'),
  clip: values.clip ?? path.join(exportDir, 'clip'),
};
for (const part of PARTS) {
  try {
    await fsp.access(sources[part]);
  } catch {
    console.error(`assemble-weights: missing ${sources[part]} (has the ${part} stage finished?)`);
    process.exit(2);
  }
}

const times = Object.fromEntries(
  ((await fsp.readFile(path.join(run, 'times.tsv'), 'utf8').catch(() => '')) as string)
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'))
    .map(([stage, secs]) => [stage, Number(secs)]),
);
const dataDirs = values.data!.split(',').filter(Boolean);
const datasets: Record<string, any>[] = [];
for (const dir of dataDirs) {
  const m = await readJson<Record<string, any>>(path.join(dir, 'manifest.json'));
  if (!m) {
    console.error(`assemble-weights: ${dir}/manifest.json is missing: build it with dalle-data emoji (--data names the training datasets)`);
    process.exit(2);
  }
  datasets.push(m);
}
/** The first of each key, in order (the first dataset's source entry is the fuller one). */
function unique<T>(xs: T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => !seen.has(key(x)) && (seen.add(key(x)), true));
}
const styles = datasets.flatMap((d) => (d.sets ?? []) as string[]).map((s) => EMOJI_SET_STYLES[s as keyof typeof EMOJI_SET_STYLES] ?? s);
const evalResults = values.eval ? await readJson<Record<string, unknown>>(values.eval) : undefined;
const history = await readJson<Record<string, unknown>>(path.join(run, 'history.json'));

await writeDirAtomic(values.out!, async (tmp) => {
  const parts: Record<string, unknown> = {};
  for (const part of PARTS) {
    await copyPart(sources[part], path.join(tmp, part), part === 'transformer' || part === 'clip');
    const cfg = await readJson<Record<string, any>>(path.join(tmp, part, part === 'tokenizer' ? 'tokenizer_config.json' : 'config.json'));
    parts[part] = {
      kind: cfg?.kind ?? part,
      config: cfg?.config ?? cfg,
      info: cfg?.info,
      wallSeconds: times[part],
    };
  }
  const files: Record<string, string> = {};
  for (const rel of await listFiles(tmp)) files[rel] = await sha256File(path.join(tmp, rel));
  const manifest = {
    name: 'dalle-ts emoji-64',
    version: new Date().toISOString().slice(0, 10),
    description: 'Default weights: 64x64 emoji from captions. Small and CPU-trained; see README for metrics and limits.',
    data: {
      kind: datasets[0].kind,
      sources: unique(datasets.flatMap((d) => d.sources ?? []), (s: any) => `${s.package}@${s.version}`),
      counts: Object.fromEntries(datasets.map((d, i) => [dataDirs[i], d.counts ?? d.splits])),
      splitRule: datasets[0].splitRule,
      trainedOn: `train split (${styles.join(' + ')}); evaluated on val-images; \`training\` says which part saw which`,
    },
    licences: {
      weights: 'Apache-2.0 (this project)',
      trainingData: unique(datasets.flatMap((d) => (d.credits ?? []) as string[]), (c) => c),
    },
    parts,
    sampling,
    training: history,
    stageWallSeconds: times,
    metrics: evalResults,
    files,
  };
  await fsp.writeFile(path.join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
});
console.log(`wrote ${values.out}: ${PARTS.join(', ')} + manifest.json`);
