// The BPE text tokenizer: trained on captions, loaded through transformers.js offline, exact
// round trip of every training caption, padding/truncation, and emoji / unknown scripts.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { sha256 } from '@dalle/core';
import { encodeText, loadTextTokenizer, normalizeCaption, trainTextTokenizer, type TextTokenizer } from '@dalle/data';
import { FAST } from '../helpers/timeouts.ts';
import { makeTempDir } from './fixtures.ts';

// Emoji-style captions plus a few odd ones (accents, other scripts, full-width, spacing).
const CAPTIONS = [
  ...['avocado', 'chair', 'couch and lamp', 'cat face', 'dog', 'red apple', 'green apple', 'grinning face', 'the flag of France', 'keycap 1'].flatMap((l) => [
    `an emoji of ${l}`,
    `${l}, food, fruit`,
    `${l}, Noto emoji style`,
    `${l} (household items)`,
  ]),
  'Café CRÈME brûlée',
  'ＦＵＬＬ　ＷＩＤＴＨ text',
  'кот и собака',
  '猫と犬',
  '  spaced\tout   caption  ',
  'waving hand, medium-light skin tone 👋🏼',
];

describe('data/text-tokenizer', function () {
  this.timeout(FAST * 3);
  let dir: string;
  let tokDir: string;
  let tok: TextTokenizer;

  before(async () => {
    dir = await makeTempDir('tok');
    tokDir = path.join(dir, 'tiny-tokenizer');
    await trainTextTokenizer(CAPTIONS, { outDir: tokDir, vocabSize: 300 });
    tok = await loadTextTokenizer(tokDir);
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('writes tokenizer.json and tokenizer_config.json with [PAD]=0 and [UNK]=1', async () => {
    const json = JSON.parse(await fsp.readFile(path.join(tokDir, 'tokenizer.json'), 'utf8'));
    assert.equal(json.model.vocab['[PAD]'], 0);
    assert.equal(json.model.vocab['[UNK]'], 1);
    assert.equal(tok.padId, 0);
    assert.equal(tok.vocabSize, Object.keys(json.model.vocab).length);
    assert.ok(tok.vocabSize <= 300 && tok.vocabSize > 258, `vocab ${tok.vocabSize}`);
    assert.equal(tok.identity, sha256(await fsp.readFile(path.join(tokDir, 'tokenizer.json'))));
    await fsp.access(path.join(tokDir, 'tokenizer_config.json'));
  });

  it('round-trips every training caption through transformers.js', () => {
    for (const c of CAPTIONS) {
      const n = normalizeCaption(c);
      const ids = tok.encode(n);
      assert.ok(ids.every((id) => Number.isInteger(id) && id >= 2 && id < tok.vocabSize), `ids of "${n}"`);
      assert.equal(tok.decode(ids), n);
    }
  });

  it('merges frequent words into fewer tokens than bytes', () => {
    const n = normalizeCaption('an emoji of avocado');
    assert.ok(tok.encode(n).length < Buffer.byteLength(n) / 2, `${tok.encode(n).length} tokens`);
  });

  it('normalises prompts (NFKC, lower case, spaces) and encodes unseen emoji and scripts without crashing', () => {
    assert.equal(normalizeCaption('  ＡＢＣ\t  Déjà\nVU '), 'abc déjà vu');
    assert.deepEqual(tok.encode('AN EMOJI  of Avocado'), tok.encode('an emoji of avocado'));
    for (const p of ['🦄🪐 ∑ unicorn', 'ελληνικά', '\u0000 odd \uFFFD chars', '[PAD] [UNK]']) {
      const ids = tok.encode(p);
      assert.ok(ids.length > 0);
      assert.equal(tok.decode(ids), normalizeCaption(p));
    }
    assert.deepEqual(tok.encode(''), []);
    assert.equal(tok.decode([]), '');
  });

  it('encodeText pads with the pad id and reports truncation', () => {
    const short = encodeText(tok, 'cat face', 16);
    assert.equal(short.ids.length, 16);
    assert.equal(short.truncated, false);
    const n = tok.encode('cat face').length;
    assert.deepEqual(Array.from(short.ids.slice(0, n)), tok.encode('cat face'));
    assert.ok(short.ids.slice(n).every((id) => id === tok.padId));
    assert.equal(tok.decode(Array.from(short.ids)), 'cat face');
    const long = encodeText(tok, 'an emoji of the flag of France, Noto emoji style', 4);
    assert.equal(long.truncated, true);
    assert.equal(long.ids.length, 4);
    assert.throws(() => encodeText(tok, 'x', 0), { name: 'UsageError' });
  });

  it('is deterministic: the same captions give the same tokenizer identity', async () => {
    const again = path.join(dir, 'again');
    const info = await trainTextTokenizer(CAPTIONS, { outDir: again, vocabSize: 300 });
    assert.equal(info.identity, tok.identity);
  });

  it('refuses a folder without tokenizer files with a UsageError', async () => {
    await assert.rejects(loadTextTokenizer(dir), { name: 'UsageError', message: /tokenizer\.json/ });
  });
});
