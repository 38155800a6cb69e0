// tokenizer-train: trains the byte-level BPE text tokenizer on captions and writes
// OUT/tokenizer.json + OUT/tokenizer_config.json (loadable by transformers.js, offline).
import { promises as fsp } from 'node:fs';
import { Progress, UsageError, createCommand, parseIntOption, runCli } from '@dalle/core';
import { MIN_VOCAB_SIZE } from '../bpe-trainer.ts';
import { openCaptionSource } from '../image-source.ts';
import { parseCaptionText } from '../source-formats.ts';
import { DEFAULT_TEXT_VOCAB_SIZE, trainTextTokenizer } from '../text-tokenizer.ts';

interface Options {
  data?: string;
  captions?: string;
  vocabSize: number;
  out: string;
}

async function readCaptions(opts: Options): Promise<string[]> {
  if ((opts.data === undefined) === (opts.captions === undefined)) throw new UsageError('give exactly one of --data SPEC or --captions FILE');
  if (opts.captions !== undefined) {
    try {
      return parseCaptionText(await fsp.readFile(opts.captions, 'utf8'));
    } catch (err) {
      throw new UsageError(`cannot read --captions ${opts.captions}: ${(err as Error).message}`);
    }
  }
  const source = openCaptionSource(opts.data!, { onSkip: (key, reason) => console.error(`skipped ${key}: ${reason}`) });
  const captions: string[] = [];
  for await (const item of source) captions.push(...item.captions);
  console.error(`read ${captions.length} captions from ${source.stats.yielded} items (${source.stats.skipped} skipped)`);
  return captions;
}

const program = createCommand('tokenizer-train', 'Train the byte-level BPE text tokenizer on captions.')
  .option('--data <spec>', 'captioned images: image folder with .txt captions, .tar shard(s), .jsonl, or a comma list of these (images are not decoded)')
  .option('--captions <file>', 'a text file with one caption per line')
  .option('--vocab-size <n>', 'vocabulary size including [PAD]=0, [UNK]=1 and the 256 byte tokens', parseIntOption('--vocab-size', MIN_VOCAB_SIZE, 65535), DEFAULT_TEXT_VOCAB_SIZE)
  .requiredOption('--out <dir>', 'output tokenizer folder (replaced atomically)')
  .action(async (opts: Options) => {
    const captions = await readCaptions(opts);
    const started = Date.now();
    const progress = new Progress({ total: opts.vocabSize - MIN_VOCAB_SIZE, label: 'bpe merges', unit: 'merge' });
    const info = await trainTextTokenizer(captions, { outDir: opts.out, vocabSize: opts.vocabSize, onMerge: () => progress.tick() });
    progress.finish();
    const note = info.vocabSize < opts.vocabSize ? ` (stopped early: no pair occurs twice any more)` : '';
    console.log(`wrote ${opts.out}: vocab ${info.vocabSize}${note}, ${info.merges} merges from ${info.captions} captions in ${((Date.now() - started) / 1000).toFixed(1)}s; identity ${info.identity}`);
  });

await runCli(program);
