import { strict as assert } from 'node:assert';
import { mirrorCaption, mirrorImage } from '@dalle/data';

describe('mirror augmentation', () => {
  it('mirrorImage flips each row left-right, keeps the array type, and twice is the identity', () => {
    const [w, h, c] = [3, 2, 2];
    const img = Float32Array.from({ length: w * h * c }, (_, i) => i);
    const m = mirrorImage(img, w, h, c);
    assert.ok(m instanceof Float32Array);
    // row 0: pixels (0,1) (2,3) (4,5) -> (4,5) (2,3) (0,1)
    assert.deepEqual(Array.from(m), [4, 5, 2, 3, 0, 1, 10, 11, 8, 9, 6, 7]);
    assert.deepEqual(Array.from(mirrorImage(m, w, h, c)), Array.from(img));
    const bytes = mirrorImage(Uint8Array.from([1, 2, 3, 4, 5, 6]), 2, 1);
    assert.ok(bytes instanceof Uint8Array);
    assert.deepEqual(Array.from(bytes), [4, 5, 6, 1, 2, 3]);
    assert.throws(() => mirrorImage(img, 4, 2, 2), /expected 4x2x2 values, got 12/);
  });

  it('mirrorCaption swaps whole words left and right, keeping case; other words stay', () => {
    assert.equal(mirrorCaption('a left arrow'), 'a right arrow');
    assert.equal(mirrorCaption('Right-facing fist, left hand'), 'Left-facing fist, right hand');
    assert.equal(mirrorCaption('LEFTWARDS arrow and rightward glance'), 'RIGHTWARDS arrow and leftward glance');
    assert.equal(mirrorCaption('copyright sign, leftover, brighter'), 'copyright sign, leftover, brighter');
    for (const c of ['a left arrow', 'Right-facing fist', 'a cat']) assert.equal(mirrorCaption(mirrorCaption(c)), c);
  });
});
