// dalle-sample with bad files: a missing or mismatched weights folder, --top-k beyond the
// codebook, an unwritable --out, an unreadable --prime, no CLIP: exit 2, one-line message.
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describeBadInput } from './bad-input.ts';

describeBadInput('e2e/dalle-sample bad files', 'packages/sampler/bin/dalle-sample.js', [
  ['--top-k > K', ['a heart', '--clip', 'none', '--top-k', '33'], /topK must be an integer in \[1, 32 \(the codebook size\)\], got 33/],
  ['missing weights', ['a heart', '--clip', 'none', '--weights', path.join(tmpdir(), 'no-such-weights-folder')], /weights folder .* does not exist/],
  ['mismatched weights', ['a heart', '--clip', 'none', '--weights', '<mismatched>'], /weights parts disagree on the codebook size: dvae\/ has 32 but transformer\/ has 16/],
  ['unwritable --out', ['a heart', '--clip', 'none', '--out', '<file>/sub'], /cannot write to --out/],
  ['--prime-rows beyond the grid', ['a heart', '--clip', 'none', '--prime', '<png>', '--prime-rows', '5'], /primeRows must be an integer in \[1, 4\] \(the grid has 4 rows\), got 5/],
  ['unreadable --prime', ['a heart', '--clip', 'none', '--prime', '<file>'], /cannot read the --prime image/],
  ['no CLIP in the weights folder', ['a heart'], /no CLIP model at .*clip: pass --clip none/],
  ['--clip folder missing', ['a heart', '--clip', 'no/such/clip'], /no CLIP folder at no\/such\/clip: .* a hub id with --allow-remote/],
]);
