// Mirror augmentation: a left-right mirrored copy of a picture, with its caption's "left" and
// "right" swapped so the words still describe it ("a left arrow" mirrored is a right arrow).

/** An HWC image (width x height x channels), mirrored left-right into a new array of the same type. */
export function mirrorImage<T extends Float32Array | Uint8Array>(image: T, width: number, height: number, channels = 3): T {
  if (image.length !== width * height * channels) throw new Error(`mirrorImage: expected ${width}x${height}x${channels} values, got ${image.length}`);
  const out = new (image.constructor as { new (n: number): T })(image.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * width + (width - 1 - x)) * channels;
      const to = (y * width + x) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = image[from + c];
    }
  }
  return out;
}

const SIDES = /\b(left|right)(wards?)?\b/gi;

/** The caption of a mirrored picture: whole words left/right (and leftward(s)/rightward(s)) swapped, keeping their case. */
export function mirrorCaption(caption: string): string {
  return caption.replace(SIDES, (word: string, side: string) => {
    const other = side.toLowerCase() === 'left' ? 'right' : 'left';
    const rest = word.slice(side.length);
    if (side === side.toUpperCase()) return other.toUpperCase() + rest;
    if (side[0] === side[0].toUpperCase()) return other[0].toUpperCase() + other.slice(1) + rest;
    return other + rest;
  });
}
