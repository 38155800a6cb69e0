// dalle-sample with bad flags: each exits 2 with a one-line message before any model loads.
import { describeBadInput } from './bad-input.ts';

describeBadInput('e2e/dalle-sample bad flags', 'packages/sampler/bin/dalle-sample.js', [
  ['empty prompt', ['', '--clip', 'none'], /the prompt is empty/],
  ['-n 0', ['a heart', '-n', '0'], /-n must be an integer in \[1, 1024\], got "0"/],
  ['-n too large', ['a heart', '-n', '5000'], /-n must be an integer in \[1, 1024\], got "5000"/],
  ['--candidates 0', ['a heart', '--candidates', '0'], /--candidates must be an integer in \[1, 1024\], got "0"/],
  ['--candidates too large', ['a heart', '--candidates', '2000'], /--candidates must be an integer in \[1, 1024\]/],
  ['n > candidates', ['a heart', '-n', '5', '--candidates', '3'], /n \(5\) cannot exceed numCandidates \(3\)/],
  ['--top-k 0', ['a heart', '--top-k', '0'], /--top-k must be an integer in \[1, /],
  ['--top-p 0', ['a heart', '--top-p', '0'], /--top-p must be a number in \(0, 1\], got "0"/],
  ['--top-p > 1', ['a heart', '--top-p', '1.5'], /--top-p must be a number in \(0, 1\], got "1.5"/],
  ['--temperature 0', ['a heart', '--temperature', '0'], /--temperature must be a number in \(0, Infinity\], got "0"/],
  ['--temperature < 0', ['a heart', '--temperature', '-1'], /--temperature must be a number/],
  ['--prime-rows without --prime', ['a heart', '--prime-rows', '2'], /--prime-rows needs --prime IMAGE/],
]);
