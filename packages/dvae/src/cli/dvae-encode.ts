// dvae-encode: streams a captioned-image source through the dVAE encoder and writes a token
// dataset (one record per image-caption pair: text ids, then image codes) for transformer training.
import { createCommand, parseIntOption, Progress, runCli, setupBackend, UsageError, type FitMode } from '@dalle/core';
import { encodeText, GROUP_RULE_HELP, groupKeyFunction, loadTextTokenizer, mirrorCaption, mirrorImage, openImageSource, TokenDatasetWriter } from '@dalle/data';
import * as tf from '@tensorflow/tfjs-core';
import { batchTensor } from '../trainer.ts';
import { dvaeCodesId, loadDvae } from '../io.ts';

interface Options {
  backend?: string;
  verbose?: boolean;
  dvae: string;
  tokenizer: string;
  data: string;
  out: string;
  textSeqLen: number;
  batchSize: number;
  limit?: number;
  fit: FitMode;
  recordsPerShard?: number;
  mirror?: boolean;
  groupBy?: string;
}

const program = createCommand('dvae-encode', 'Encode captioned images into a token dataset (text ids + dVAE image codes).')
  .requiredOption('--dvae <dir>', 'dVAE model folder (config.json + model.safetensors)')
  .requiredOption('--tokenizer <dir>', 'text tokenizer folder (tokenizer.json + tokenizer_config.json)')
  .requiredOption('--data <spec>', 'captioned images: folder of images + .txt, .tar shard(s), .jsonl, or a comma list of these')
  .requiredOption('--out <dir>', 'token dataset folder to write (replaced atomically when complete)')
  .option('--text-seq-len <n>', 'text tokens per record (longer captions are truncated, shorter padded)', parseIntOption('--text-seq-len', 1, 4096), 32)
  .option('--batch-size <n>', 'images per encoder call', parseIntOption('--batch-size', 1, 4096), 32)
  .option('--limit <n>', 'encode at most N images', parseIntOption('--limit', 1))
  .option('--fit <mode>', 'how images are made square: cover (centre crop), contain, fill', 'cover')
  .option('--records-per-shard <n>', 'records per shard file', parseIntOption('--records-per-shard', 1))
  .option('--mirror', 'augment: also encode each image mirrored left-right, with "left" and "right" swapped in its captions')
  .option('--group-by <rule>', `also write each record's group (groups.json), for dalle-train --balance: ${GROUP_RULE_HELP}`)
  .action(async (opts: Options) => {
    if (!['cover', 'contain', 'fill'].includes(opts.fit)) throw new UsageError(`--fit must be cover, contain or fill, got "${opts.fit}"`);
    const groupOf = opts.groupBy === undefined ? undefined : groupKeyFunction(opts.groupBy);
    await setupBackend(opts);
    const dvae = await loadDvae(opts.dvae);
    try {
      const tok = await loadTextTokenizer(opts.tokenizer);
      const info = {
        textSeqLen: opts.textSeqLen,
        gridSize: dvae.gridSize,
        codebookSize: dvae.codebookSize,
        textVocabSize: tok.vocabSize,
        dvaeId: dvaeCodesId(dvae),
        tokenizerId: tok.identity,
      };
      if (opts.verbose) console.error(`token dataset: ${JSON.stringify(info)}`);
      const writer = await TokenDatasetWriter.create(opts.out, info, { recordsPerShard: opts.recordsPerShard, groupBy: opts.groupBy });
      const source = openImageSource(opts.data, { imageSize: dvae.imageSize, limit: opts.limit, fit: opts.fit });
      const progress = new Progress({ total: opts.limit ?? 0, label: 'encode', unit: 'img' });
      let records = 0;
      let truncated = 0;
      let pending: { image: Float32Array; captions: string[]; group?: string }[] = [];
      const flush = async () => {
        if (pending.length === 0) return;
        const x = batchTensor(pending.map((p) => p.image), dvae.imageSize);
        const codes = dvae.encode(x);
        try {
          const flat = (await codes.data()) as Int32Array;
          const n = dvae.gridSize ** 2;
          for (const [b, item] of pending.entries()) {
            const grid = flat.subarray(b * n, (b + 1) * n);
            for (const caption of item.captions) {
              const text = encodeText(tok, caption, opts.textSeqLen);
              if (text.truncated) truncated++;
              await writer.add(text.ids, grid, item.group);
              records++;
            }
          }
          progress.tick(opts.mirror ? pending.length / 2 : pending.length, { records }); // source images (mirror copies come in pairs)
        } finally {
          tf.dispose([x, codes]);
        }
        pending = [];
      };
      try {
        for await (const item of source) {
          const group = groupOf?.(item.key);
          pending.push({ image: item.image, captions: item.captions, group });
          if (opts.mirror) pending.push({ image: mirrorImage(item.image, dvae.imageSize, dvae.imageSize), captions: item.captions.map(mirrorCaption), group });
          if (pending.length >= opts.batchSize) await flush();
        }
        await flush();
        if (records === 0) throw new UsageError(`${opts.data}: no usable images (${source.stats.skipped} skipped)`);
      } catch (err) {
        await writer.abort(); // nothing half-written is left beside --out
        throw err;
      }
      const manifest = await writer.close();
      progress.finish();
      const skipped = source.stats.skipped ? `, ${source.stats.skipped} skipped (${JSON.stringify(source.stats.skippedReasons)})` : '';
      console.log(`wrote ${opts.out}: ${records} records from ${source.stats.yielded} images${opts.mirror ? ' and their mirror images' : ''}${skipped}; ${truncated} captions truncated to ${opts.textSeqLen} tokens${manifest.groups ? `; ${manifest.groups.count} groups by ${manifest.groups.by}` : ''}`);
    } finally {
      dvae.dispose();
    }
  });

await runCli(program);
