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
