import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainTextTokenizer } from '@dalle/data';
import { CLI } from '../helpers/timeouts.ts';
import { runBin, writeImageFolder } from './fixtures.ts';

describe('dvae-train command', function () {
  this.timeout(CLI);
  let dir: string;
  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dvae-cli-'));
    await writeImageFolder(path.join(dir, 'data'), 6, 16);
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });
  const base = () => ['--data', path.join(dir, 'data'), '--preset', 'tiny', '--batch-size', '3', '--warmup-steps', '1'];

  it('prints help and refuses bad options with exit code 2', async () => {
    const help = await runBin('dvae-train', ['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--resume <dir>/);
    const bad = await runBin('dvae-train', [...base(), '--image-size', '200', '--out', path.join(dir, 'bad')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /imageSize must be a power of 2, got 200/);
  });

  it('stops on Ctrl-C with a checkpoint, refuses a changed schedule on --resume, then finishes and exports', async () => {
    const run = path.join(dir, 'run');
    let sent = false;
    const first = await runBin('dvae-train', [...base(), '--steps', '400', '--out', run], {
      onStderr: (text, child) => {
        if (!sent && /dvae .* [1-9]\d*\/400/.test(text)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /stopped at step (\d+); checkpoint .*step-\d+ \(continue with --resume/);
    const stopped = Number(/stopped at step (\d+)/.exec(first.stdout)![1]);
    assert.ok(stopped < 400);
    const changed = await runBin('dvae-train', ['--data', path.join(dir, 'data'), '--resume', run, '--lr', '0.5']);
    assert.equal(changed.code, 2);
    assert.match(changed.stderr, /--resume continues the saved schedule: lr is 0\.002 in .* but 0\.5 was given/);
    // Finishing the 400-step schedule would be slow; exact resume is covered by trainer.test.ts.
    // Here a short run goes end to end instead.
    const short = path.join(dir, 'short');
    const exp = path.join(dir, 'export');
    const done = await runBin('dvae-train', [...base(), '--steps', '3', '--out', short, '--export', exp]);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /done: 3 steps/);
    const cfg = JSON.parse(await fsp.readFile(path.join(exp, 'config.json'), 'utf8'));
    assert.equal(cfg.kind, 'dalle-dvae');
    await fsp.access(path.join(exp, 'model.safetensors'));
    await fsp.access(path.join(short, 'samples', 'step-3.png'));

    // A decoder-only fine-tune of the export keeps its codes: dvae-encode records the export's identity.
    const data = ['--data', path.join(dir, 'data'), '--batch-size', '3', '--warmup-steps', '1'];
    const noInit = await runBin('dvae-train', [...data, '--decoder-only', '--out', path.join(dir, 'x')]);
    assert.equal(noInit.code, 2);
    assert.match(noInit.stderr, /--decoder-only trains the decoder on the codes of a trained encoder: give the model with --init/);
    const both = await runBin('dvae-train', [...data, '--init', exp, '--resume', short]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--init starts a new run and --resume continues one: give one of them/);
    const ft = path.join(dir, 'export-ft');
    const tuned = await runBin('dvae-train', [...data, '--init', exp, '--decoder-only', '--steps', '2', '--out', path.join(dir, 'ft'), '--export', ft]);
    assert.equal(tuned.code, 0, tuned.stderr);
    assert.match(tuned.stdout, new RegExp(`codes of ${cfg.info.identity.slice(0, 16)}`));
    const ftInfo = JSON.parse(await fsp.readFile(path.join(ft, 'config.json'), 'utf8')).info;
    assert.equal(ftInfo.codesFrom, cfg.info.identity);
    assert.equal(ftInfo.decoderOnly, true);
    assert.notEqual(ftInfo.identity, cfg.info.identity);
    const tok = path.join(dir, 'tok');
    await trainTextTokenizer(['a box number 1', 'the box 2'], { outDir: tok, vocabSize: 300 });
    const enc = await runBin('dvae-encode', ['--dvae', ft, '--tokenizer', tok, '--data', path.join(dir, 'data'), '--out', path.join(dir, 'tokens')]);
    assert.equal(enc.code, 0, enc.stderr);
    assert.equal(JSON.parse(await fsp.readFile(path.join(dir, 'tokens', 'manifest.json'), 'utf8')).dvaeId, cfg.info.identity);
  });
});
