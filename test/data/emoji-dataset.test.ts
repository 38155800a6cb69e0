// The emoji builder on a smoke subset: files and captions per image, the deterministic split
// rule recomputed independently, pinned concepts in train, and the manifest's counts.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { fnv1a32 } from '@dalle/core';
import { FLUENT_FIT, PINNED_TRAIN_CONCEPTS, baseKey, buildEmojiDataset, fluentKey, cleanLabel, emojiCaptions, iconifySvg, withArticle, type EmojiManifest, type IconifyJson } from '@dalle/data';
import { FAST } from '../helpers/timeouts.ts';
import { makeTempDir } from './fixtures.ts';

const SPLITS = ['train', 'val-images', 'val-concepts'] as const;

/** The rule of shared DATA.md, written again here from its text. */
function expectedSplit(unified: string, set: string): string {
  const base = unified
    .split('-')
    .filter((h) => h.toUpperCase() !== 'FE0F' && !/^1F3F[B-F]$/i.test(h))
    .map((h) => h.toUpperCase().replace(/^0+/, ''))
    .join('-');
  if (PINNED_TRAIN_CONCEPTS.includes(base)) return 'train';
  if (fnv1a32(base) % 20 === 0) return 'val-concepts';
  if (fnv1a32(`${base}|${set}`) % 10 === 0) return 'val-images';
  return 'train';
}

describe('data/emoji-dataset', function () {
  this.timeout(FAST * 6);
  let dir: string;
  let out: string;
  let manifest: EmojiManifest;
  const files: Record<string, string[]> = {};

  before(async () => {
    dir = await makeTempDir('emoji');
    out = path.join(dir, 'emoji');
    // 120 concepts: enough that every split is populated (val-concepts is ~1 in 20)
    manifest = await buildEmojiDataset({ outDir: out, limit: 120, quiet: true });
    for (const s of SPLITS) files[s] = (await fsp.readdir(path.join(out, s))).sort();
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('writes one 64x64 RGB png and 4 non-empty captions per image', async () => {
    for (const s of SPLITS) {
      const pngs = files[s].filter((f) => f.endsWith('.png'));
      const txts = files[s].filter((f) => f.endsWith('.txt'));
      assert.deepEqual(pngs.map((f) => f.slice(0, -4)), txts.map((f) => f.slice(0, -4)), `${s}: png and txt pair up`);
      assert.equal(pngs.length, manifest.counts[s].images);
    }
    const sample = files.train.find((f) => f.endsWith('.png'))!;
    const meta = await sharp(path.join(out, 'train', sample)).metadata();
    assert.equal(meta.width, 64);
    assert.equal(meta.height, 64);
    const lines = (await fsp.readFile(path.join(out, 'train', sample.replace('.png', '.txt')), 'utf8')).trimEnd().split('\n');
    assert.equal(lines.length, 4);
    assert.ok(lines.every((l) => l.trim().length > 0));
  });

  it('puts every image in the split the rule gives, and no val-concepts concept anywhere else', () => {
    const conceptsBySplit: Record<string, Set<string>> = {};
    for (const s of SPLITS) {
      conceptsBySplit[s] = new Set();
      for (const f of files[s].filter((f) => f.endsWith('.png'))) {
        const [, set, unified] = /^(google|twitter)-(.+)\.png$/.exec(f)!;
        assert.equal(s, expectedSplit(unified, set), `${f} is in ${s}`);
        conceptsBySplit[s].add(baseKey(unified.toUpperCase()));
      }
    }
    for (const s of SPLITS) assert.ok(conceptsBySplit[s].size > 0, `${s} is not empty`);
    for (const c of conceptsBySplit['val-concepts']) {
      assert.ok(!conceptsBySplit.train.has(c) && !conceptsBySplit['val-images'].has(c), `zero-shot concept ${c} leaked`);
    }
    for (const p of PINNED_TRAIN_CONCEPTS) assert.ok(conceptsBySplit.train.has(p), `pinned ${p} in train`);
    const all = new Set(SPLITS.flatMap((s) => [...conceptsBySplit[s]]));
    assert.equal(all.size, manifest.counts.total.concepts);
  });

  it('records sources, licences, counts, split rule and credits in manifest.json', async () => {
    const onDisk = JSON.parse(await fsp.readFile(path.join(out, 'manifest.json'), 'utf8')) as EmojiManifest;
    assert.deepEqual(onDisk.counts, manifest.counts);
    assert.deepEqual(onDisk.sources.map((s) => `${s.package}@${s.version}`), ['emoji-datasource-google@16.0.0', 'emoji-datasource-twitter@16.0.0', 'emojibase-data@17.0.0']);
    assert.ok(onDisk.sources.every((s) => s.licence.length > 0));
    assert.ok(onDisk.credits.some((c) => /CC-BY 4\.0/.test(c)));
    assert.match(onDisk.splitRule, /fnv1a32/);
    const total = SPLITS.reduce((a, s) => a + onDisk.counts[s].images, 0);
    assert.equal(onDisk.counts.total.images, total);
    assert.equal(onDisk.counts.total.pairs, total * 4);
    // a concept whose only pictures are pixel duplicates of earlier ones drops out
    assert.ok(onDisk.counts.total.concepts <= 120 && onDisk.counts.total.concepts > 100);
    assert.equal(onDisk.missingMetadata.length, 0);
  });

  it('base keys drop FE0F, leading zeros and skin tones', () => {
    assert.equal(baseKey('0023-FE0F-20E3'), '23-20E3');
    assert.equal(baseKey('1F44B-1F3FC'), '1F44B');
    assert.equal(baseKey('1F6CB-FE0F'), '1F6CB');
  });

  it('cleans labels and builds the four captions', () => {
    assert.equal(cleanLabel('flag: France'), 'the flag of France');
    assert.equal(cleanLabel('waving hand: medium skin tone'), 'waving hand, medium skin tone');
    assert.equal(withArticle('avocado'), 'an avocado');
    assert.equal(withArticle('unicorn'), 'a unicorn');
    assert.equal(withArticle('the flag of France'), 'the flag of France');
    const caps = emojiCaptions({ label: 'chair', tags: ['chair', 'seat', 'sit'], subgroup: 'household items' }, 'Twemoji');
    assert.deepEqual(caps, ['an emoji of a chair', 'chair, seat, sit', 'a chair, Twemoji emoji style', 'chair (household items)']);
  });

  describe('the fluent set (Fluent Emoji 3D)', () => {
    let fluentOut: string;
    let fluent: EmojiManifest;
    before(async () => {
      fluentOut = path.join(dir, 'fluent');
      fluent = await buildEmojiDataset({ outDir: fluentOut, sets: ['fluent'], limit: 12, quiet: true });
    });

    it('trims each picture, fits it to FLUENT_FIT pixels and centres it on 64x64 white', async () => {
      let seen = 0;
      for (const s of SPLITS) {
        for (const f of (await fsp.readdir(path.join(fluentOut, s))).filter((f) => f.endsWith('.png'))) {
          const [, unified] = /^fluent-(.+)\.png$/.exec(f)!;
          assert.equal(s, expectedSplit(unified, 'fluent'), `${f} is in ${s}`);
          const { data, info } = await sharp(path.join(fluentOut, s, f)).raw().toBuffer({ resolveWithObject: true });
          assert.deepEqual([info.width, info.height, info.channels], [64, 64, 3]);
          let [x0, y0, x1, y1] = [64, 64, -1, -1];
          for (let y = 0; y < 64; y++) {
            for (let x = 0; x < 64; x++) {
              const i = (y * 64 + x) * 3;
              if (Math.min(data[i], data[i + 1], data[i + 2]) < 250) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
            }
          }
          const margin = (64 - FLUENT_FIT) / 2;
          assert.ok(x0 >= margin - 1 && y0 >= margin - 1 && x1 <= 64 - margin && y1 <= 64 - margin, `${f}: art inside the ${margin} px margin (${x0},${y0})-(${x1},${y1})`);
          assert.ok(Math.max(x1 - x0, y1 - y0) + 1 >= FLUENT_FIT - 3, `${f}: the longer side fills about ${FLUENT_FIT} px (${x1 - x0 + 1}x${y1 - y0 + 1})`);
          seen++;
        }
      }
      assert.equal(seen, fluent.counts.total.images);
      assert.ok(seen >= 12, `${seen} pictures`);
    });

    it('joins Fluent file names to emoji.json codepoints: case, FE0F and the subdivision flags', () => {
      assert.equal(fluentKey('1f951'), fluentKey('1F951'));
      assert.equal(fluentKey('0023-fe0f-20e3'), fluentKey('0023-20E3'));
      assert.equal(fluentKey('2764-fe0f-200d-1f525'), fluentKey('2764-FE0F-200D-1F525'));
      // England: emoji.json 1F3F4-E0067-E0062-E0065-E006E-E0067-E007F, Fluent 1f3f4-e0067_e0062_e0065_e006e_e0067.webp
      assert.equal(fluentKey('1f3f4-e0067_e0062_e0065_e006e_e0067'), fluentKey('1F3F4-E0067-E0062-E0065-E006E-E0067-E007F'));
      assert.notEqual(fluentKey('1f3f4'), fluentKey('1F3F4-E0067-E0062-E0065-E006E-E0067-E007F'));
    });

    it('captions the style as 3D Fluent and credits Microsoft and the emoji.json it joins on', async () => {
      const lines = (await fsp.readFile(path.join(fluentOut, 'train', 'fluent-1f951.txt'), 'utf8')).trimEnd().split('\n');
      assert.equal(lines[2], 'an avocado, 3D Fluent emoji style');
      assert.deepEqual(fluent.sources.map((s) => `${s.package}@${s.version}`), ['@lobehub/fluent-emoji-3d@1.1.0', 'emoji-datasource-google@16.0.0', 'emojibase-data@17.0.0']);
      assert.match(fluent.sources[1].use, /emoji\.json only/);
      assert.ok(fluent.credits.some((c) => /Microsoft/.test(c)));
      assert.ok(!fluent.credits.some((c) => /Twemoji/.test(c)));
      assert.equal(fluent.missingMetadata.length, 0);
    });
  });

  describe('the fluent-flat and fluent-color sets (Fluent Emoji 2D, from Iconify SVGs)', () => {
    let out2d: string;
    let flat2d: EmojiManifest;
    before(async () => {
      out2d = path.join(dir, 'fluent2d');
      flat2d = await buildEmojiDataset({ outDir: out2d, sets: ['fluent-flat', 'fluent-color'], limit: 12, quiet: true });
    });

    it('renders both styles of every concept at 64x64 on white, in the split the rule gives for each set', async () => {
      const seen: Record<string, Set<string>> = { 'fluent-flat': new Set(), 'fluent-color': new Set() };
      for (const s of SPLITS) {
        for (const f of (await fsp.readdir(path.join(out2d, s))).filter((f) => f.endsWith('.png'))) {
          const [, set, unified] = /^(fluent-flat|fluent-color)-(.+)\.png$/.exec(f)!;
          assert.equal(s, expectedSplit(unified, set), `${f} is in ${s}`);
          seen[set].add(unified);
          const { data, info } = await sharp(path.join(out2d, s, f)).raw().toBuffer({ resolveWithObject: true });
          assert.deepEqual([info.width, info.height, info.channels], [64, 64, 3]);
          assert.deepEqual([...data.subarray(0, 3)], [255, 255, 255], `${f}: transparent corner composited on white`);
          let ink = 0;
          for (let i = 0; i < data.length; i += 3) if (Math.min(data[i], data[i + 1], data[i + 2]) < 250) ink++;
          assert.ok(ink > 64 * 64 * 0.15, `${f}: the drawing covers ${ink} of 4096 pixels`);
        }
      }
      assert.deepEqual([...seen['fluent-flat']].sort(), [...seen['fluent-color']].sort(), 'the Color set is joined through the Flat set\'s codepoint index');
      assert.equal(seen['fluent-flat'].size + seen['fluent-color'].size, flat2d.counts.total.images);
      assert.ok(seen['fluent-flat'].has('1f951'), 'the pinned avocado is drawn');
      // same drawing, different shading
      const flatPx = await sharp(path.join(out2d, 'train', 'fluent-flat-1f951.png')).raw().toBuffer();
      const colorPx = await sharp(path.join(out2d, 'train', 'fluent-color-1f951.png')).raw().toBuffer();
      assert.ok(!flatPx.equals(colorPx), 'flat and color avocados differ');
      assert.deepEqual(flat2d.unrenderable, []);
    });

    it('captions each style by name and credits Microsoft, the Iconify packages and the emoji.json it joins on', async () => {
      const flat = (await fsp.readFile(path.join(out2d, 'train', 'fluent-flat-1f951.txt'), 'utf8')).trimEnd().split('\n');
      const color = (await fsp.readFile(path.join(out2d, 'train', 'fluent-color-1f951.txt'), 'utf8')).trimEnd().split('\n');
      assert.equal(flat[2], 'an avocado, Fluent Flat emoji style');
      assert.equal(color[2], 'an avocado, Fluent Color emoji style');
      assert.deepEqual(flat.filter((_, i) => i !== 2), color.filter((_, i) => i !== 2));
      assert.deepEqual(flat2d.sources.map((s) => `${s.package}@${s.version}`), ['@iconify-json/fluent-emoji-flat@1.2.6', '@iconify-json/fluent-emoji@1.2.7', 'emoji-datasource-google@16.0.0', 'emojibase-data@17.0.0']);
      assert.match(flat2d.sources[1].use, /chars\.json of @iconify-json\/fluent-emoji-flat/);
      assert.ok(flat2d.sources.slice(0, 2).every((s) => s.licence === 'MIT'));
      assert.deepEqual(flat2d.credits.filter((c) => /Fluent Emoji (Flat|Color)/.test(c)).length, 2);
      assert.ok(!flat2d.credits.some((c) => /Twemoji|3D/.test(c)));
      assert.equal(flat2d.missingMetadata.length, 0);
    });

    it('iconifySvg draws an icon in its view box, and an alias as its parent mirrored', async () => {
      const set: IconifyJson = {
        width: 16,
        height: 16,
        icons: { left: { body: '<rect x="0" y="0" width="8" height="16" fill="#ff0000"/>' }, wide: { body: '<rect x="0" y="0" width="8" height="8" fill="#0000ff"/>', width: 32, height: 8 } },
        aliases: { right: { parent: 'left', hFlip: true }, up: { parent: 'left', vFlip: true }, 'right-again': { parent: 'right' } },
      };
      const redAt = async (name: string): Promise<[boolean, boolean]> => {
        const { data } = await sharp(Buffer.from(iconifySvg(set, name, 16))).flatten({ background: '#ffffff' }).raw().toBuffer({ resolveWithObject: true });
        const red = (x: number, y: number) => data[(y * 16 + x) * 3] === 255 && data[(y * 16 + x) * 3 + 1] === 0;
        return [red(2, 8), red(13, 8)];
      };
      assert.deepEqual(await redAt('left'), [true, false]);
      assert.deepEqual(await redAt('right'), [false, true]);
      assert.deepEqual(await redAt('right-again'), [false, true]);
      assert.deepEqual(await redAt('up'), [true, false], 'a vertical flip keeps the left half left');
      assert.match(iconifySvg(set, 'wide', 64), /viewBox="0 0 32 8"/);
      assert.throws(() => iconifySvg(set, 'down', 16), /icon "down" is not in the icon set/);
    });
  });
});
