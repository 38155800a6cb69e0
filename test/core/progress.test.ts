import { strict as assert } from 'node:assert';
import { Progress, formatDuration } from '@dalle/core';

/** A fake non-terminal stream that records what is written. */
function sink(): { stream: NodeJS.WriteStream; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = { isTTY: false, write: (s: string) => chunks.push(s) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

describe('progress', () => {
  it('prints the final line once, with the count, total and metrics', () => {
    const s = sink();
    const p = new Progress({ total: 3, label: 'x', unit: 'step', stream: s.stream, plainIntervalSec: 3600 });
    p.tick(1);
    p.tick(1);
    p.tick(1, { loss: 0.5 });
    p.finish('done');
    const lines = s.lines();
    assert.equal(lines.filter((l) => l.includes('3/3')).length, 1, lines.join('\n'));
    assert.match(lines.at(-2)!, /^x █+ 3\/3 .* step\/s ETA 0s loss=0\.5000$/);
    assert.equal(lines.at(-1), 'done');
  });

  it('shows a count without a bar or ETA when the total is unknown', () => {
    const s = sink();
    const p = new Progress({ total: 0, label: 'encode', unit: 'img', stream: s.stream });
    p.tick(5);
    p.finish();
    const last = s.lines().at(-1)!;
    assert.match(last, /^encode 5 img [\d.]+ img\/s \d+s$/);
    assert.ok(!last.includes('ETA') && !last.includes('/0'));
  });

  it('quiet prints nothing; formatDuration reads as h/m/s', () => {
    const s = sink();
    const p = new Progress({ total: 2, stream: s.stream, quiet: true });
    p.tick(2);
    p.finish('x');
    assert.deepEqual(s.lines(), []);
    assert.equal(formatDuration(59), '59s');
    assert.equal(formatDuration(61), '1m01s');
    assert.equal(formatDuration(3661), '1h01m');
    assert.equal(formatDuration(Infinity), '--');
  });
});
