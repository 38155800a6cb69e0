// Captions for emoji images from Unicode/CLDR labels and keywords (emojibase), following the
// recipe in the project's shared DATA.md: four captions per image and a few label clean-ups.

export type EmojiStyle = 'Noto' | 'Twemoji' | '3D Fluent' | 'Fluent Flat' | 'Fluent Color';

export interface EmojiMeta {
  /** CLDR label, e.g. "avocado", "flag: France", "waving hand: light skin tone". */
  label: string;
  /** CLDR keywords in emojibase order. */
  tags: string[];
  /** Readable subgroup name, e.g. "household items". */
  subgroup: string;
}

/** "flag: X" -> "the flag of X"; "A: B skin tone" -> "A, B skin tone"; "keycap: X" -> "keycap X". */
export function cleanLabel(label: string): string {
  const l = label.trim().replace(/\s+/g, ' ');
  const flag = /^flag: (.+)$/i.exec(l);
  if (flag) return `the flag of ${flag[1]}`;
  const keycap = /^keycap: (.+)$/i.exec(l);
  if (keycap) return `keycap ${keycap[1]}`;
  if (/skin tones?\b/.test(l)) return l.replace(': ', ', ');
  return l;
}

// Words spelt with a vowel but said with a consonant sound take "a"; a silent h takes "an".
const A_BEFORE_VOWEL = /^(uni|use|usu|ufo|uk\b|eu|ewe|one\b|one-|once)/i;
const AN_BEFORE_H = /^(hour|honest|honou?r|heir)/i;

/** The label with "a" / "an" in front; none before "the flag ..." or keycaps. */
export function withArticle(label: string): string {
  if (/^(the |keycap\b)/i.test(label)) return label;
  if (AN_BEFORE_H.test(label)) return `an ${label}`;
  if (/^[aeiou]/i.test(label) && !A_BEFORE_VOWEL.test(label)) return `an ${label}`;
  if (/^(8|11|18|80)\b/.test(label)) return `an ${label}`; // "an 8 ...", "an 11 ..."
  return `a ${label}`;
}

/** Up to `max` tags whose words are not all in the label already. */
export function extraTags(label: string, tags: string[], max = 3): string[] {
  const labelWords = new Set(label.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean));
  const out: string[] = [];
  for (const tag of tags) {
    const words = tag.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    if (words.length === 0 || words.every((w) => labelWords.has(w))) continue;
    if (out.includes(tag)) continue;
    out.push(tag);
    if (out.length === max) break;
  }
  return out;
}

/** The four captions of one emoji image, in a fixed order. */
export function emojiCaptions(meta: EmojiMeta, style: EmojiStyle): string[] {
  const label = cleanLabel(meta.label);
  const tags = extraTags(label, meta.tags);
  return [
    `an emoji of ${withArticle(label)}`,
    tags.length > 0 ? `${label}, ${tags.join(', ')}` : label,
    `${withArticle(label)}, ${style} emoji style`,
    `${label} (${meta.subgroup})`,
  ];
}
