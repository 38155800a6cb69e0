// The text-then-image transformer (@dalle/transformer) behind the sampler's ImagePrior contract.
import { createDecoder, imageSeqLen, type TransformerModel } from '@dalle/transformer';
import type { ImagePrior } from './types.ts';

export function transformerPrior(model: TransformerModel): ImagePrior {
  return {
    textSeqLen: model.config.textSeqLen,
    imageSeqLen: imageSeqLen(model.config),
    codebookSize: model.config.imageVocabSize,
    createDecoder: (batchSize) => createDecoder(model, batchSize),
  };
}
