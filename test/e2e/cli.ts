// Runs a command's bin launcher in a child process (as a user would) and collects its output.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runBin(bin: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, bin), ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs `jobs` with at most `limit` in flight (the machine has 2 cores). */
export async function inPool<T>(jobs: (() => Promise<T>)[], limit = 2): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return out;
}

/** Runs named jobs (at most `limit` at once) and stores each result in `runs` under its name. */
export async function runNamed(jobs: Record<string, () => Promise<CliRun>>, runs: Record<string, CliRun>, limit = 2): Promise<void> {
  const names = Object.keys(jobs);
  (await inPool(names.map((n) => jobs[n]), limit)).forEach((r, i) => (runs[names[i]] = r));
}

/** The run stored under `name`, after asserting that it exited with 0 (its stderr in the message). */
export function okRun(runs: Record<string, CliRun>, name: string): CliRun {
  const r = runs[name];
  assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr}`);
  return r;
}
