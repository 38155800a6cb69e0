// Record groups: the --group-by rules, the group-balanced data order, and groups.json in token
// datasets (written, verified, joined across datasets).
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { concatGroups, EpochSampler, GroupBalancedSampler, GroupCollector, groupKeyFunction, openTokenDataset, TokenDatasetWriter, type TokenDatasetInfo } from '@dalle/data';
import { FAST } from '../helpers/timeouts.ts';

const info: TokenDatasetInfo = { textSeqLen: 3, gridSize: 2, codebookSize: 8, textVocabSize: 16, dvaeId: 'd', tokenizerId: 't' };

/** Group ids for groups of the given sizes, records of a group interleaved with the others'. */
function interleavedIds(sizes: number[]): number[] {
  const ids: number[] = [];
  const left = [...sizes];
  while (left.some((n) => n > 0)) left.forEach((n, g) => n > 0 && (ids.push(g), left[g]--));
  return ids;
}

describe('data/record-groups', function () {
  this.timeout(FAST);

  it('names groups by image, folder, emoji concept or regex', () => {
    assert.equal(groupKeyFunction('image')('cats/001'), 'cats/001');
    assert.equal(groupKeyFunction('folder')('cats/001'), 'cats');
    assert.equal(groupKeyFunction('folder')('001'), '.');
    const emoji = groupKeyFunction('emoji');
    assert.equal(emoji('google-1f951'), '1F951');
    assert.equal(emoji('twitter-1f951'), '1F951');
    assert.equal(emoji('google-0023-fe0f-20e3'), '23-20E3');
    // a skin-toned variant joins its base concept, wherever the modifier sits
    assert.equal(emoji('google-1f469-1f3fd-200d-1f4bb'), emoji('twitter-1f469-200d-1f4bb'));
    assert.equal(emoji('val-images/google-1f44b-1f3ff'), '1F44B');
    // hyphenated set names (fluent-flat, fluent-color) and codepoints with hex letters
    assert.equal(emoji('fluent-flat-1f951'), '1F951');
    assert.equal(emoji('fluent-color-00a9-fe0f'), 'A9');
    const re = groupKeyFunction('/^([a-z]+)_\\d+$/');
    assert.equal(re('dog_12'), 'dog');
    assert.equal(groupKeyFunction('/^[a-z]+/i')('Dog_12'), 'Dog');
  });

  it('refuses unknown rules, bad regexes and keys a rule cannot read', () => {
    assert.throws(() => groupKeyFunction('concept'), { name: 'UsageError', message: /unknown group rule "concept"; use image/ });
    assert.throws(() => groupKeyFunction('/(/'), { name: 'UsageError', message: /not a valid regular expression/ });
    assert.throws(() => groupKeyFunction('/^x(\\d)/')('y1'), { name: 'UsageError', message: /does not match image key "y1"/ });
    assert.throws(() => groupKeyFunction('emoji')('photo-of-a-cat'), { name: 'UsageError', message: /not <set>-<codepoints>/ });
    assert.throws(() => groupKeyFunction('emoji')('fluent-flat-face'), { name: 'UsageError', message: /not <set>-<codepoints>/ });
  });

  it('balanced order: epochs keep their length and visit every group equally often', () => {
    const sizes = [12, 1, 2, 5, 1];
    const ids = interleavedIds(sizes);
    const s = new GroupBalancedSampler(ids, { seed: 7 });
    assert.equal(s.groups, 5);
    const epoch = s.next(ids.length);
    assert.equal(epoch.length, 21);
    const visits = new Array(5).fill(0);
    for (const r of epoch) visits[ids[r]]++;
    // 21 draws over 5 groups: 4 full passes and one partial one
    for (const v of visits) assert.ok(v === 4 || v === 5, `visits ${visits}`);
    // a group's records take turns: no record of the 12-record group twice in one epoch, both of the 2-record group
    const big = epoch.filter((r) => ids[r] === 0);
    assert.equal(new Set(big).size, big.length);
    assert.deepEqual(new Set(epoch.filter((r) => ids[r] === 2)), new Set(ids.flatMap((g, r) => (g === 2 ? [r] : []))));
    assert.deepEqual(s.state(), { seed: 7, epoch: 0, index: 21, groups: 5 });
  });

  it('balanced order: a lone record is drawn as often as a whole large group', () => {
    const ids = interleavedIds([30, 1]);
    const s = new GroupBalancedSampler(ids, { seed: 1 });
    const draws = s.next(ids.length * 10);
    const lone = ids.indexOf(1);
    const loneCount = draws.filter((r) => r === lone).length;
    assert.ok(Math.abs(loneCount - draws.length / 2) <= 10, `lone record drawn ${loneCount} of ${draws.length}`);
    // the plain order draws it once an epoch
    assert.equal(new EpochSampler(ids.length, { seed: 1 }).next(ids.length * 10).filter((r) => r === lone).length, 10);
  });

  it('balanced order is deterministic per seed and resumes exactly from state()', () => {
    const ids = interleavedIds([4, 1, 3]);
    const a = new GroupBalancedSampler(ids, { seed: 5 });
    assert.deepEqual(a.next(20), new GroupBalancedSampler(ids, { seed: 5 }).next(20));
    const resumed = new GroupBalancedSampler(ids, JSON.parse(JSON.stringify(a.state())));
    for (let i = 0; i < 6; i++) assert.deepEqual(resumed.next(5), a.next(5));
    assert.notDeepEqual(new GroupBalancedSampler(ids, { seed: 6 }).next(16), new GroupBalancedSampler(ids, { seed: 5 }).next(16));
    assert.throws(() => new GroupBalancedSampler([0, -1], { seed: 1 }), { name: 'UsageError', message: /group id of record 1/ });
    assert.throws(() => new GroupBalancedSampler([0, 1, 1], { seed: 1, epoch: 0, index: 0, groups: 3 }), { name: 'UsageError', message: /saved over 3 record groups, but the data has 2/ });
  });

  it('weighted order: each epoch keeps its length; draws follow the weights; a 0-weight group is never drawn', () => {
    const sizes = [6, 1, 3, 2];
    const ids = interleavedIds(sizes); // 12 records
    const weights = [1, 3, 0, 2];
    const s = new GroupBalancedSampler(ids, { seed: 3 }, weights);
    const epochs = 60;
    const visits = new Array(4).fill(0);
    for (let e = 0; e < epochs; e++) {
      const epoch = s.next(ids.length);
      assert.equal(epoch.length, 12);
      const perEpoch = new Array(4).fill(0);
      for (const r of epoch) perEpoch[ids[r]]++;
      // owed 12 * w / 6 = 2, 6, 0, 4 draws an epoch: whole numbers, so exactly that every epoch
      assert.deepEqual(perEpoch, [2, 6, 0, 4]);
      perEpoch.forEach((v, g) => (visits[g] += v));
    }
    assert.deepEqual(s.state(), { seed: 3, epoch: 59, index: 12, groups: 4 });
    // a group owed a fraction of a draw gets it in that fraction of the epochs
    const frac = new GroupBalancedSampler(ids, { seed: 4 }, [1, 1, 1, 0.1]); // group 3: 12 * 0.1 / 3.1 = 0.387 an epoch
    let lone = 0;
    for (let e = 0; e < 400; e++) lone += frac.next(ids.length).filter((r) => ids[r] === 3).length;
    assert.ok(Math.abs(lone / 400 - 12 * 0.1 / 3.1) < 0.05, `group 3 drawn ${lone} times in 400 epochs`);
  });

  it('weighted order: a heavy group\'s visits are spread through the epoch, its records take turns', () => {
    const ids = interleavedIds([4, 4, 4, 4, 4]); // 20 records
    const s = new GroupBalancedSampler(ids, { seed: 9 }, [6, 1, 1, 1, 1]); // group 0: 12 draws of 20
    const epoch = s.next(20);
    const at = epoch.flatMap((r, i) => (ids[r] === 0 ? [i] : []));
    assert.equal(at.length, 12);
    const gaps = at.slice(1).map((p, k) => p - at[k]);
    assert.ok(Math.max(...gaps) <= 3, `group 0 at ${at}`); // evenly: at most every 20/12 = 1.7 draws, give or take the others' ties
    const own = epoch.filter((r) => ids[r] === 0);
    for (let k = 0; k < own.length; k++) assert.equal(own[k], own[k % 4], 'its 4 records cycle in one order');
    assert.equal(new Set(own.slice(0, 4)).size, 4);
  });

  it('weighted order is deterministic per seed, resumes exactly, and refuses bad weights', () => {
    const ids = interleavedIds([4, 1, 3]);
    const w = [0.5, 2, 1];
    const a = new GroupBalancedSampler(ids, { seed: 5 }, w);
    assert.deepEqual(a.next(20), new GroupBalancedSampler(ids, { seed: 5 }, w).next(20));
    assert.notDeepEqual(new GroupBalancedSampler(ids, { seed: 5 }, w).next(24), new GroupBalancedSampler(ids, { seed: 5 }).next(24), 'weights change the order');
    const resumed = new GroupBalancedSampler(ids, JSON.parse(JSON.stringify(a.state())), w);
    for (let i = 0; i < 6; i++) assert.deepEqual(resumed.next(5), a.next(5));
    assert.throws(() => new GroupBalancedSampler(ids, { seed: 1 }, [1, 1]), { name: 'UsageError', message: 'group weights: 2 weights for group ids 0..2; give one weight per group' });
    assert.throws(() => new GroupBalancedSampler([0, 2], { seed: 1 }, [1, 1, 1]), { name: 'UsageError', message: 'group weights: 3 weights for group ids 0..2 (group 1 has no records); give one weight per group' });
    assert.throws(() => new GroupBalancedSampler(ids, { seed: 1 }, [1, -1, 1]), { name: 'UsageError', message: 'group weights: weight 1 must be a finite number >= 0, got -1' });
    assert.throws(() => new GroupBalancedSampler(ids, { seed: 1 }, [1, NaN, 1]), { name: 'UsageError', message: 'group weights: weight 1 must be a finite number >= 0, got NaN' });
    assert.throws(() => new GroupBalancedSampler(ids, { seed: 1 }, [0, 0, 0]), { name: 'UsageError', message: 'group weights: all weights are 0; at least one group must be drawn' });
  });

  it('token datasets carry groups.json; the reader checks it; datasets join by group name', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'record-groups-'));
    try {
      const write = async (name: string, groups: string[]) => {
        const w = await TokenDatasetWriter.create(path.join(dir, name), info, { groupBy: 'emoji' });
        for (const [i, g] of groups.entries()) await w.add([1, 2, i % 16], [0, 1, 2, 3], g);
        const m = await w.close();
        return { dir: path.join(dir, name), manifest: m };
      };
      const a = await write('a', ['1F951', '1F951', '1F600', '1F951']);
      assert.deepEqual({ ...a.manifest.groups, sha256: undefined }, { file: 'groups.json', by: 'emoji', count: 2, sha256: undefined });
      const dsA = await openTokenDataset(a.dir);
      assert.deepEqual(dsA.groups?.names, ['1F951', '1F600']);
      assert.deepEqual([...dsA.groups!.ids], [0, 0, 1, 0]);
      const b = await write('b', ['1F600', '1F408']);
      const joined = concatGroups([dsA.groups!, (await openTokenDataset(b.dir)).groups!], ['a', 'b']);
      assert.deepEqual(joined.names, ['1F951', '1F600', '1F408']);
      assert.deepEqual([...joined.ids], [0, 0, 1, 0, 1, 2]);
      assert.throws(() => concatGroups([dsA.groups!, { by: 'image', names: ['x'], ids: Uint32Array.of(0) }], ['a', 'c']), { name: 'UsageError', message: /c groups its records by "image" but a by "emoji"/ });

      // a dataset without groups has none; writers refuse mixing
      const plain = await TokenDatasetWriter.create(path.join(dir, 'plain'), info);
      await assert.rejects(plain.add([1, 2, 3], [0, 1, 2, 3], 'g'), { name: 'UsageError', message: /without groupBy/ });
      await plain.add([1, 2, 3], [0, 1, 2, 3]);
      await plain.close();
      assert.equal((await openTokenDataset(path.join(dir, 'plain'))).groups, undefined);
      const grouped = await TokenDatasetWriter.create(path.join(dir, 'grouped'), info, { groupBy: 'image' });
      await assert.rejects(grouped.add([1, 2, 3], [0, 1, 2, 3]), { name: 'UsageError', message: /groups its records \(by image\); pass the record's group name/ });
      await grouped.abort();

      // an edited groups.json is refused
      const file = path.join(a.dir, 'groups.json');
      const text = await fsp.readFile(file, 'utf8');
      await fsp.writeFile(file, text.replace('[0,0,1,0]', '[0,1,1,0]'));
      await assert.rejects(openTokenDataset(a.dir), { name: 'UsageError', message: /groups file .* has sha256 .*corrupt or replaced/ });
      await fsp.rm(file);
      await assert.rejects(openTokenDataset(a.dir), { name: 'UsageError', message: /groups file missing/ });
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('GroupCollector gives dense ids in order of first appearance', () => {
    const c = new GroupCollector('image');
    for (const g of ['b', 'a', 'b', 'c']) c.add(g);
    assert.deepEqual(c.result(), { by: 'image', names: ['b', 'a', 'c'], ids: Uint32Array.of(0, 1, 0, 2) });
  });
});
