import { strict as assert } from 'node:assert';
import { mkdtempSync, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { decodeSafetensors, encodeSafetensors, readSafetensors, UsageError, writeSafetensors, type NamedTensors } from '@dalle/core';

const sample = (): NamedTensors => ({
  'blocks.0.w': { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, -2.5, 3, 0.1, 1e-3, -7]) },
  ids: { dtype: 'int32', shape: [4], data: Int32Array.from([0, 1, -5, 65535]) },
  scalar: { dtype: 'float32', shape: [], data: Float32Array.from([42]) },
});

describe('safetensors', () => {
  it('round-trips float32, int32 and scalars exactly', () => {
    const { tensors } = decodeSafetensors(encodeSafetensors(sample()));
    for (const [k, t] of Object.entries(sample())) {
      assert.deepEqual(tensors[k].shape, t.shape, k);
      assert.equal(tensors[k].dtype, t.dtype, k);
      assert.deepEqual(Array.from(tensors[k].data), Array.from(t.data), k);
    }
  });

  it('stores floats as F16 within half precision', () => {
    const { tensors } = decodeSafetensors(encodeSafetensors(sample(), { dtype: 'F16' }));
    const got = Array.from(tensors['blocks.0.w'].data);
    Array.from(sample()['blocks.0.w'].data).forEach((v, i) => assert.ok(Math.abs(got[i] - v) <= Math.abs(v) * 1e-3 + 1e-4, `${got[i]} vs ${v}`));
    assert.deepEqual(Array.from(tensors.ids.data), [0, 1, -5, 65535]);
  });

  it('keeps metadata and aligns the data section to 8 bytes', () => {
    const bytes = encodeSafetensors(sample(), { metadata: { kind: 'test' } });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + headerLen) % 8, 0);
    assert.deepEqual(decodeSafetensors(bytes).metadata, { kind: 'test' });
  });

  it('refuses a truncated file, naming the file', () => {
    const bytes = encodeSafetensors(sample());
    assert.throws(() => decodeSafetensors(bytes.subarray(0, bytes.length - 3), 'model.safetensors'), (e: Error) => e instanceof UsageError && /model\.safetensors: .*truncated/.test(e.message));
    assert.throws(() => decodeSafetensors(bytes.subarray(0, 5), 'x'), /too short/);
  });

  it('refuses a header that lies about sizes or dtypes, naming the tensor', () => {
    const lie = (edit: (h: any) => void) => {
      const bytes = encodeSafetensors(sample());
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString());
      edit(header);
      const json = Buffer.from(JSON.stringify(header));
      const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      out.set(bytes.subarray(8 + n), 8 + json.length);
      return () => decodeSafetensors(out, 'm.safetensors');
    };
    assert.throws(lie((h) => (h['blocks.0.w'].shape = [3, 3])), /"blocks\.0\.w": F32 \[3,3\] needs 36 bytes but data_offsets span 24/);
    assert.throws(lie((h) => (h.ids.dtype = 'Q7')), /"ids" has unknown dtype "Q7"/);
    assert.throws(lie((h) => (h.ids.dtype = 'F16')), /"ids": F16 \[4\] needs 8 bytes/);
    assert.throws(lie((h) => (h.scalar.data_offsets = [36, 40])), /tensor "scalar" starts at byte 36 but the previous one ends at 40/);
    assert.throws(lie((h) => (h.scalar.data_offsets = [44, 48])), /"scalar" ends at byte 48 but the data section has 44 bytes/);
  });

  it('writes atomically and reads back from disk', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'st-'));
    const file = path.join(dir, 'm.safetensors');
    await writeSafetensors(file, sample());
    assert.deepEqual(await fsp.readdir(dir), ['m.safetensors']);
    const { tensors } = await readSafetensors(file);
    assert.deepEqual(Array.from(tensors.ids.data), [0, 1, -5, 65535]);
    await assert.rejects(readSafetensors(path.join(dir, 'missing.safetensors')), /cannot read .*missing\.safetensors/);
  });
});
