// @dalle/data: public API (explicit named exports only).
export {
  openImageSource,
  openCaptionSource,
  resolveSourceSpec,
  type CaptionedImage,
  type SourceStats,
  type ImageSourceOptions,
  type ImageSource,
  type CaptionRecord,
  type CaptionSource,
  type CaptionSourceOptions,
} from './image-source.ts';
export { parseCaptionText, parseCaptionJson, IMAGE_EXTENSIONS } from './source-formats.ts';
export { readTarEntries, encodeTar, writeTar, TarFormatError, type TarEntry } from './tar.ts';
export { buildEmojiDataset, fluentKey, iconifySvg, type IconifyJson, EMOJI_SETS, EMOJI_SET_STYLES, DEFAULT_EMOJI_SETS, FLUENT_FIT, EMOJI_IMAGE_SIZE, EMOJI_CREDITS, type EmojiSet, type EmojiBuildOptions, type EmojiManifest, type EmojiSplitCounts } from './emoji-dataset.ts';
export { baseKey, emojiSplit, EMOJI_SPLITS, PINNED_TRAIN_CONCEPTS, SPLIT_RULE, type EmojiSplit } from './emoji-split.ts';
export { emojiCaptions, cleanLabel, withArticle, extraTags, type EmojiMeta, type EmojiStyle } from './emoji-captions.ts';
export {
  normalizeCaption,
  loadTextTokenizer,
  encodeText,
  trainTextTokenizer,
  TOKENIZER_FILE,
  TOKENIZER_CONFIG_FILE,
  DEFAULT_TEXT_VOCAB_SIZE,
  type TextTokenizer,
  type TrainTokenizerOptions,
  type TrainedTokenizerInfo,
} from './text-tokenizer.ts';
export { trainBpe, bpeTokenizerJson, byteLevelWords, PAD_TOKEN, UNK_TOKEN, MIN_VOCAB_SIZE, type BpeModel, type BpeTrainOptions } from './bpe-trainer.ts';
export {
  TokenDatasetWriter,
  openTokenDataset,
  checkTokenDatasetInfo,
  imageSeqLen,
  recordLength,
  recordBytes,
  shardFileName,
  TOKEN_DATASET_FORMAT_VERSION,
  TOKEN_MANIFEST_FILE,
  DEFAULT_RECORDS_PER_SHARD,
  type TokenDatasetInfo,
  type TokenDatasetManifest,
  type TokenDataset,
} from './token-dataset.ts';
export { EpochSampler, GroupBalancedSampler, groupMembers, type SamplerState } from './epoch-sampler.ts';
export { groupKeyFunction, GroupCollector, concatGroups, parseGroups, serializeGroups, GROUPS_FILE, GROUP_RULE_HELP, type RecordGroups } from './record-groups.ts';
export { mirrorCaption, mirrorImage } from './mirror.ts';
