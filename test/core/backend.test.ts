import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { currentBackend, parseBackendName, selectBackend, UsageError } from '@dalle/core';

describe('backend', () => {
  const original = () => currentBackend()?.requested;

  it('parses names and refuses unknown ones with the list of valid ones', () => {
    assert.equal(parseBackendName(undefined), 'auto');
    assert.equal(parseBackendName(' WASM '), 'wasm');
    assert.throws(() => parseBackendName('gpu'), (e: Error) => e instanceof UsageError && /unknown backend "gpu": choose one of auto, node-gpu, node, wasm, cpu/.test(e.message));
  });

  it('forces cpu and wasm, and reports the choice', async () => {
    const before = original();
    try {
      const lines: string[] = [];
      const cpu = await selectBackend('cpu', { log: (l) => lines.push(l) });
      assert.equal(cpu.name, 'cpu');
      assert.equal(tf.getBackend(), 'cpu');
      assert.match(lines[0], /^backend: cpu/);
      const wasm = await selectBackend('wasm');
      assert.equal(wasm.name, 'wasm');
      assert.equal(tf.getBackend(), 'wasm');
    } finally {
      await selectBackend(before ?? undefined);
    }
  });

  it('auto falls back past tfjs-node when its native library is absent, saying why', async () => {
    const before = original();
    try {
      const info = await selectBackend('auto');
      if (info.name === 'wasm' || info.name === 'cpu') {
        assert.ok(info.skipped.some((s) => s.includes('tfjs-node')), info.skipped.join('; '));
      }
    } finally {
      await selectBackend(before ?? undefined);
    }
  });

  it('an explicitly requested backend that cannot start is an error, not a silent fallback', async function () {
    const before = original();
    const info = await selectBackend('auto');
    await selectBackend(before ?? undefined);
    if (info.name === 'node' || info.name === 'node-gpu') this.skip();
    await assert.rejects(selectBackend('node'), /backend "node" is not available here/);
    assert.ok(['wasm', 'cpu'].includes(tf.getBackend()), 'the previous backend stays active');
  });
});
