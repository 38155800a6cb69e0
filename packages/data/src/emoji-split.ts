// The deterministic train / val-images / val-concepts split of the emoji dataset (shared DATA.md):
// FNV-1a over a base concept key, nothing random, with a few concepts pinned to train.
import { fnv1a32 } from '@dalle/core';

export const EMOJI_SPLITS = ['train', 'val-images', 'val-concepts'] as const;
export type EmojiSplit = (typeof EMOJI_SPLITS)[number];

/** Concepts the demo prompts rely on: always trained on, whatever their hash. */
export const PINNED_TRAIN_CONCEPTS: readonly string[] = [
  '1F951', // avocado
  '1FA91', // chair
  '1F6CB', // couch and lamp
  '1F408', // cat
  '1F431', // cat face
  '1F415', // dog
  '1F436', // dog face
  '1F34E', // red apple
  '1F34F', // green apple
  '1F600', // grinning face
];

const SKIN_TONES = new Set([0x1f3fb, 0x1f3fc, 0x1f3fd, 0x1f3fe, 0x1f3ff]);

/**
 * The concept an image shows: uppercase hex codepoints joined by '-', without FE0F, without
 * leading zeros and without skin-tone modifiers ("0023-FE0F-20E3" -> "23-20E3").
 */
export function baseKey(unified: string): string {
  return unified
    .split('-')
    .map((h) => parseInt(h, 16))
    .filter((cp) => cp !== 0xfe0f && !SKIN_TONES.has(cp))
    .map((cp) => cp.toString(16).toUpperCase())
    .join('-');
}

/** val-concepts: fnv1a32(base) % 20 == 0; else val-images: fnv1a32(base + "|" + set) % 10 == 0; else train. */
export function emojiSplit(base: string, set: string): EmojiSplit {
  if (PINNED_TRAIN_CONCEPTS.includes(base)) return 'train';
  if (fnv1a32(base) % 20 === 0) return 'val-concepts';
  if (fnv1a32(`${base}|${set}`) % 10 === 0) return 'val-images';
  return 'train';
}

export const SPLIT_RULE =
  'baseKey = uppercase hex codepoints joined by "-", without FE0F, leading zeros and skin tones 1F3FB-1F3FF; ' +
  'pinned concepts -> train; fnv1a32(baseKey) % 20 == 0 -> val-concepts; ' +
  'else fnv1a32(baseKey + "|" + set) % 10 == 0 -> val-images; else train ' +
  '(FNV-1a 32-bit over the ASCII string, offset 0x811c9dc5, prime 0x01000193)';
