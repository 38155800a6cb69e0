// `pnpm bench <name>`: runs one benchmark from scripts/bench/ and prints its figures.
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bench');
const names = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, '')).sort();
const name = process.argv[2];
if (!name || !names.includes(name)) {
  console.error(`usage: pnpm bench <${names.join('|')}> [options]`);
  process.exit(2);
}
process.argv.splice(2, 1);
await import(path.join(dir, `${name}.ts`));
