// dalle-data: dataset commands. `emoji` builds the emoji dataset of shared DATA.md from the npm
// packages installed with @dalle/data (no network at run time).
import { UsageError, createCommand, parseIntOption, runCli } from '@dalle/core';
import { EMOJI_SETS, buildEmojiDataset, type EmojiSet } from '../emoji-dataset.ts';

function parseSets(value: string): EmojiSet[] {
  const sets = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of sets) if (!(EMOJI_SETS as readonly string[]).includes(s)) throw new UsageError(`--sets: unknown set "${s}", expected a comma list of ${EMOJI_SETS.join(', ')}`);
  if (sets.length === 0) throw new UsageError(`--sets: expected a comma list of ${EMOJI_SETS.join(', ')}, got "${value}"`);
  return [...new Set(sets)] as EmojiSet[];
}

const program = createCommand('dalle-data', 'Build and inspect captioned-image datasets.');
// runCli sets exitOverride on the root only; subcommands copy their parent's settings when they
// are created, so set it here too, or a bad subcommand option would exit 1 instead of 2.
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command('emoji')
  .description('Build the emoji dataset: DIR/{train,val-images,val-concepts}/<key>.png (64x64 on white) + <key>.txt (4 captions), and DIR/manifest.json')
  .requiredOption('--out <dir>', 'output folder (replaced atomically)')
  .option('--sets <list>', `comma list of art sets: ${EMOJI_SETS.join(', ')}`, EMOJI_SETS.join(','))
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

await runCli(program);
