// Runs the data package's bin launchers in a child process (as a user would).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../packages/data/bin');

export function runBin(bin: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [path.join(BIN, bin), ...args], { encoding: 'utf8' });
}
