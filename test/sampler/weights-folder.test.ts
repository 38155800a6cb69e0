// Weights-folder checks: a missing or incomplete folder, and parts that disagree, each named.
import { UsageError } from '@dalle/core';
import { checkPartsAgree, DEFAULT_WEIGHTS_DIR, readWeightsManifest, type PartFacts } from '@dalle/sampler';
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const good = (): PartFacts => ({
  tokenizer: { vocabSize: 16, padId: 0, identity: 'tok-a' },
  dvae: { codebookSize: 8, gridSize: 3, imageSize: 12, identity: () => 'dvae-a' },
  transformer: { textSeqLen: 4, textVocabSize: 16, textPadId: 0, imageSeqLen: 9, codebookSize: 8, tokenizerId: 'tok-a', dvaeId: 'dvae-a' },
  manifest: { textSeqLen: 4, gridSize: 3, codebookSize: 8, imageSize: 12, tokenizerId: 'tok-a' },
});

describe('sampler/weights-folder', () => {
  it('the default folder is the repository weights/, not the cwd', () => {
    assert.equal(DEFAULT_WEIGHTS_DIR, path.resolve(import.meta.dirname, '../../weights'));
  });

  it('accepts agreeing parts and names the first disagreement', () => {
    checkPartsAgree(good());
    const cases: [(f: PartFacts) => void, RegExp][] = [
      [(f) => (f.dvae.codebookSize = 16), /codebook size: dvae\/ has 16 but transformer\/ has 8/],
      [(f) => (f.dvae.gridSize = 4), /image grid: dvae\/ has "4x4 = 16 codes" but transformer\/ has "9 image positions"/],
      [(f) => (f.tokenizer.vocabSize = 32), /text vocabulary size/],
      [(f) => (f.tokenizer.padId = 1), /text pad id/],
      [(f) => (f.tokenizer.identity = 'tok-b'), /tokenizer identity: tokenizer\/ has "tok-b" but transformer\/ \(trained with\) has "tok-a"/],
      [(f) => (f.dvae.identity = () => 'dvae-b'), /dVAE identity/],
      [(f) => (f.manifest!.textSeqLen = 8), /text length: manifest.json has 8 but transformer\/ has 4/],
      [(f) => (f.manifest!.imageSize = 16), /image size/],
    ];
    for (const [mutate, re] of cases) {
      const f = good();
      mutate(f);
      assert.throws(() => checkPartsAgree(f), (e: Error) => e instanceof UsageError && re.test(e.message), re.source);
    }
  });

  it('readWeightsManifest refuses a missing folder, a missing manifest and a missing part', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sampler-weights-'));
    try {
      await assert.rejects(readWeightsManifest(path.join(dir, 'nope')), /does not exist/);
      await assert.rejects(readWeightsManifest(dir), /no manifest.json/);
      writeFileSync(path.join(dir, 'manifest.json'), '{"name": "x"');
      await assert.rejects(readWeightsManifest(dir), /not valid JSON/);
      writeFileSync(path.join(dir, 'manifest.json'), '{"name": "x"}');
      mkdirSync(path.join(dir, 'tokenizer'));
      mkdirSync(path.join(dir, 'dvae'));
      await assert.rejects(readWeightsManifest(dir), /has no transformer\/ part/);
      mkdirSync(path.join(dir, 'transformer'));
      assert.equal((await readWeightsManifest(dir)).name, 'x');
      writeFileSync(path.join(dir, 'manifest.json'), '{"name": "x", "sampling": {"condScale": 2}}');
      assert.deepEqual((await readWeightsManifest(dir)).sampling, { condScale: 2 });
      writeFileSync(path.join(dir, 'manifest.json'), '{"name": "x", "sampling": {"condScale": 2, "cfg": 3}}');
      await assert.rejects(readWeightsManifest(dir), (e: Error) => e instanceof UsageError && e.message.startsWith(`${path.join(dir, 'manifest.json')} "sampling": unknown setting "cfg"`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
