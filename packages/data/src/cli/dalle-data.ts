// dalle-data: dataset commands. `emoji` builds the emoji dataset of shared DATA.md from the npm
// packages installed with @dalle/data (no network at run time).
import { Progress, UsageError, createCommand, parseIntOption, runCli, type FitMode } from '@dalle/core';
import { DEFAULT_EMOJI_SETS, EMOJI_SETS, buildEmojiDataset, type EmojiSet } from '../emoji-dataset.ts';
import { openImageSource } from '../image-source.ts';

function parseSets(value: string): EmojiSet[] {
  const sets = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of sets) if (!(EMOJI_SETS as readonly string[]).includes(s)) throw new UsageError(`--sets: unknown set "${s}", expected a comma list of ${EMOJI_SETS.join(', ')}`);
  if (sets.length === 0) throw new UsageError(`--sets: expected a comma list of ${EMOJI_SETS.join(', ')}, got "${value}"`);
  return [...new Set(sets)] as EmojiSet[];
}

const program = createCommand('dalle-data', 'Build and check captioned-image datasets.');

program
  .command('emoji')
  .description('Build the emoji dataset: DIR/{train,val-images,val-concepts}/<key>.png (64x64 on white) + <key>.txt (4 captions), and DIR/manifest.json')
  .requiredOption('--out <dir>', 'output folder (replaced atomically)')
  .option('--sets <list>', `comma list of art sets: ${EMOJI_SETS.join(', ')} (fluent: Fluent Emoji 3D; fluent-flat, fluent-color: Fluent Emoji's 2D styles; all three MIT)`, DEFAULT_EMOJI_SETS.join(','))
  .option('--limit <n>', 'smoke subset: only the first N base concepts (pinned ones first)', parseIntOption('--limit', 1))
  .option('--quiet', 'no progress bar')
  .action(async (opts: { out: string; sets: string; limit?: number; quiet?: boolean }) => {
    const manifest = await buildEmojiDataset({ outDir: opts.out, sets: parseSets(opts.sets), limit: opts.limit, quiet: opts.quiet });
    const c = manifest.counts;
    console.log(
      `wrote ${opts.out}: train ${c.train.images} images / ${c.train.pairs} pairs, val-images ${c['val-images'].images} / ${c['val-images'].pairs}, ` +
        `val-concepts ${c['val-concepts'].images} / ${c['val-concepts'].pairs} (${c.total.concepts} concepts, ${manifest.buildSeconds}s)`,
    );
  });

const FITS: FitMode[] = ['cover', 'contain', 'fill'];

program
  .command('check')
  .description('Decode every image of a captioned-image source and report what would be skipped (and why)')
  .requiredOption('--data <spec>', 'image folder with .txt captions, .tar shard(s), .jsonl, or a comma list of these')
  .option('--image-size <n>', 'decode size in pixels', parseIntOption('--image-size', 1, 4096), 64)
  .option('--fit <mode>', `resize mode: ${FITS.join(', ')}`, 'cover')
  .option('--limit <n>', 'stop after N good images', parseIntOption('--limit', 1))
  .action(async (opts: { data: string; imageSize: number; fit: string; limit?: number }) => {
    if (!(FITS as string[]).includes(opts.fit)) throw new UsageError(`--fit must be one of ${FITS.join(', ')}, got "${opts.fit}"`);
    const source = openImageSource(opts.data, { imageSize: opts.imageSize, fit: opts.fit as FitMode, limit: opts.limit, onSkip: (key, reason) => console.error(`skipped ${key}: ${reason}`) });
    // the total is unknown up front; the bar shows counts and rate
    const progress = new Progress({ total: opts.limit ?? 0, label: 'check', unit: 'img' });
    let captions = 0;
    for await (const item of source) {
      captions += item.captions.length;
      progress.tick(1, { skipped: String(source.stats.skipped) });
    }
    progress.finish();
    const s = source.stats;
    const reasons = Object.entries(s.skippedReasons).map(([r, n]) => `${r}: ${n}`).join(', ');
    console.log(`${opts.data}: ${s.yielded} images, ${captions} captions, ${s.skipped} skipped${reasons ? ` (${reasons})` : ''}`);
  });

await runCli(program);
