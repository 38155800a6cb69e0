import { strict as assert } from 'node:assert';
import { fnv1a32, Rng } from '@dalle/core';

describe('rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    assert.deepEqual(xs, Array.from({ length: 5 }, () => b.nextUint32()));
    assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c.nextUint32()));
  });

  it('resumes exactly from a saved state', () => {
    const a = new Rng(1);
    for (let i = 0; i < 10; i++) a.next();
    const b = new Rng(a.state());
    assert.deepEqual(Array.from({ length: 5 }, () => a.next()), Array.from({ length: 5 }, () => b.next()));
  });

  it('draws uniforms in [0,1) with the right mean and normals with unit variance', () => {
    const r = new Rng(3);
    const n = 20000;
    let sum = 0;
    let sq = 0;
    let lo = 1;
    let hi = 0;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      sum += u;
      const z = r.normal();
      sq += z * z;
    }
    assert.ok(lo >= 0 && hi < 1);
    assert.ok(Math.abs(sum / n - 0.5) < 0.01, `mean ${sum / n}`);
    assert.ok(Math.abs(sq / n - 1) < 0.05, `var ${sq / n}`);
  });

  it('shuffles into a permutation and int(n) stays in range', () => {
    const r = new Rng(5);
    const xs = r.shuffle(Array.from({ length: 100 }, (_, i) => i));
    assert.deepEqual([...xs].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
    assert.notDeepEqual(xs, Array.from({ length: 100 }, (_, i) => i));
    for (let i = 0; i < 1000; i++) {
      const k = r.int(3);
      assert.ok(k === 0 || k === 1 || k === 2);
    }
  });

  it('fnv1a32 matches the published test vectors', () => {
    // Vectors from the FNV reference (draft-eastlake-fnv): "" -> 0x811c9dc5, "a" -> 0xe40c292c, "foobar" -> 0xbf9cf968.
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  });
});
