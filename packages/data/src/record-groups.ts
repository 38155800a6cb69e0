// Record groups: which records of a token dataset show the same thing (one image and its
// captions, one class folder, one emoji concept), so that training can sample the groups evenly
// instead of the records (a concept drawn in 12 skin tones would otherwise be drawn 6x as often
// as one drawn once). dvae-encode names each image's group with a rule; the names go to
// groups.json beside the shards (see packages/data/FORMAT.md).
import * as path from 'node:path';
import { UsageError } from '@dalle/core';
import { baseKey } from './emoji-split.ts';

export const GROUPS_FILE = 'groups.json';

export const GROUP_RULE_HELP =
  'image (each source image and its captions), folder (the image\'s sub-folder, e.g. one class per folder), ' +
  'emoji (the emoji concept of <set>-<codepoints> keys, skin tones folded together), ' +
  'or /regex/ (the first capture group, else the whole match, of the image key)';

/** The group of each record, by index into `names`. */
export interface RecordGroups {
  /** The rule that named the groups (e.g. "emoji"). */
  by: string;
  /** Distinct group names, in order of first appearance. */
  names: string[];
  /** ids[r] indexes names for record r. */
  ids: Uint32Array;
}

/**
 * The function that names an image's group from its source key (the path without extension for
 * a folder, the WebDataset key for tar shards, the line key for JSONL). Throws UsageError for an
 * unknown rule or a regex that does not compile; the returned function throws for a key the
 * regex does not match.
 */
export function groupKeyFunction(rule: string): (key: string) => string {
  if (rule === 'image') return (key) => key;
  if (rule === 'folder') return (key) => path.posix.dirname(key.split(path.sep).join('/'));
  if (rule === 'emoji') {
    return (key) => {
      const name = path.posix.basename(key.split(path.sep).join('/'));
      // Set names are letters and hyphens ("google", "fluent-flat"); emoji codepoints start with a digit.
      const m = /^[a-z]+(?:-[a-z]+)*-([0-9][0-9a-f]*(?:-[0-9a-f]+)*)$/i.exec(name);
      if (!m) throw new UsageError(`--group-by emoji: image key "${key}" is not <set>-<codepoints> (e.g. google-1f951, fluent-flat-1f951), as dalle-data emoji writes them`);
      return baseKey(m[1]);
    };
  }
  const slashed = /^\/(.*)\/([a-z]*)$/s.exec(rule);
  if (!slashed) throw new UsageError(`unknown group rule "${rule}"; use ${GROUP_RULE_HELP}`);
  let re: RegExp;
  try {
    re = new RegExp(slashed[1], slashed[2]);
  } catch (err) {
    throw new UsageError(`group rule ${rule} is not a valid regular expression: ${(err as Error).message}`);
  }
  return (key) => {
    const m = re.exec(key);
    if (!m) throw new UsageError(`group rule ${rule} does not match image key "${key}"`);
    return m[1] ?? m[0];
  };
}

/** Collects group names record by record (dense ids in order of first appearance). */
export class GroupCollector {
  private readonly index = new Map<string, number>();
  readonly names: string[] = [];
  private ids: number[] = [];

  constructor(readonly by: string) {}

  add(name: string): void {
    let id = this.index.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.index.set(name, id);
      this.names.push(name);
    }
    this.ids.push(id);
  }

  result(): RecordGroups {
    return { by: this.by, names: [...this.names], ids: Uint32Array.from(this.ids) };
  }
}

/** The groups.json text for `groups` (ids as a plain array). */
export function serializeGroups(groups: RecordGroups): string {
  return JSON.stringify({ by: groups.by, names: groups.names, ids: Array.from(groups.ids) }) + '\n';
}

/** Parses and checks groups.json against the dataset's record count. */
export function parseGroups(text: string, file: string, count: number): RecordGroups {
  let g: { by?: unknown; names?: unknown; ids?: unknown };
  try {
    g = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!g || typeof g !== 'object' || typeof g.by !== 'string' || !Array.isArray(g.names) || !Array.isArray(g.ids)) {
    throw new UsageError(`${file}: expected {"by": string, "names": [...], "ids": [...]}`);
  }
  const names = g.names;
  if (!names.every((n) => typeof n === 'string')) throw new UsageError(`${file}: names must be strings`);
  if (g.ids.length !== count) throw new UsageError(`${file} has ${g.ids.length} ids but the dataset has ${count} records (re-run dvae-encode)`);
  const ids = new Uint32Array(count);
  g.ids.forEach((v: unknown, r) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= names.length) {
      throw new UsageError(`${file}: record ${r} has group id ${JSON.stringify(v)}, outside [0, ${names.length})`);
    }
    ids[r] = v;
  });
  return { by: g.by, names: names as string[], ids };
}

/** Several datasets' groups as one index space: equal names (under one rule) are one group. */
export function concatGroups(parts: RecordGroups[], sources: string[]): RecordGroups {
  if (parts.length === 0) throw new UsageError('no groups to join');
  const by = parts[0].by;
  parts.forEach((p, i) => {
    if (p.by !== by) throw new UsageError(`${sources[i]} groups its records by "${p.by}" but ${sources[0]} by "${by}"; re-encode with one --group-by rule`);
  });
  const out = new GroupCollector(by);
  for (const p of parts) for (const id of p.ids) out.add(p.names[id]);
  return out.result();
}
