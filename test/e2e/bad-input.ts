// Shared runner for "bad input" CLI tests: each case must exit 2 with a one-line message that
// matches, print no stack trace, and leave its --out folder unwritten.
import { encodePng } from '@dalle/core';
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CLI } from '../helpers/timeouts.ts';
import { makeTinyWeights, type TinyWeights } from '../sampler/fixture.ts';
import { inPool, runBin, type CliRun } from './cli.ts';

/** tfjs-backend-cpu's "install tfjs-node" notice (printed when the cpu backend is created). */
const TFJS_BANNER = /^=+$|TensorFlow\.js in Node\.js|^Hi, looks like/;

/** Placeholders in args: <weights> a good tiny folder, <mismatched> one whose transformer has K=16, <file> a non-image file, <png> an 8x8 PNG. */
export type BadInputCase = [name: string, args: string[], message: RegExp];

export function describeBadInput(title: string, bin: string, cases: BadInputCase[]): void {
  describe(title, function () {
    this.timeout(CLI);
    let root: string;
    const results = new Map<string, CliRun>();
    const outOf = (name: string) => path.join(root, 'out', name.replace(/\W+/g, '-'));

    before(async function () {
      this.timeout(CLI);
      root = mkdtempSync(path.join(tmpdir(), 'dalle-e2e-bad-'));
      const needs = (tag: string) => cases.some(([, args]) => args.some((a) => a.includes(tag)));
      const weights: TinyWeights = await makeTinyWeights({ dir: path.join(root, 'weights') });
      const mismatched = needs('<mismatched>') ? (await makeTinyWeights({ dir: path.join(root, 'mismatched'), transformer: { imageVocabSize: 16 } })).dir : '';
      const file = path.join(root, 'a-file');
      writeFileSync(file, 'not an image');
      const png = path.join(root, 'image.png');
      writeFileSync(png, await encodePng(new Float32Array(8 * 8 * 3).fill(0.5), 8, 8));
      const jobs = cases.map(([name, args]) => async () => {
        const a = args.map((s) => s.replace('<mismatched>', mismatched).replace('<file>', file).replace('<weights>', weights.dir).replace('<png>', png));
        if (!a.includes('--weights')) a.push('--weights', weights.dir);
        if (!a.includes('--out')) a.push('--out', outOf(name));
        results.set(name, await runBin(bin, a));
      });
      await inPool(jobs, 2);
    });
    after(() => rmSync(root, { recursive: true, force: true }));

    for (const [name, , message] of cases) {
      it(`${name}: exit 2, one-line message, nothing written`, () => {
        const r = results.get(name)!;
        const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('(run with --help') && !TFJS_BANNER.test(l));
        assert.equal(r.code, 2, `exit ${r.code}; stderr:\n${r.stderr}`);
        assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
        assert.match(lines[0], message);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
        assert.ok(!existsSync(outOf(name)), 'nothing written');
      });
    }
  });
}
