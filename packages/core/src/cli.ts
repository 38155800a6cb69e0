// Helpers every command uses: the shared options (--backend, --verbose, --seed), integer and
// number parsers that reject bad input with UsageError, and runCli(), which maps errors to
// exit codes (UsageError -> one line, exit 2; anything else -> stack, exit 1).
import { Command, InvalidArgumentError } from 'commander';
import { selectBackend, type BackendInfo } from './backend.ts';
import { UsageError } from './errors.ts';

export interface CommonOptions {
  backend?: string;
  verbose?: boolean;
}

/** A commander program with the options every command shares. */
export function createCommand(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .option('--backend <name>', 'tensor backend: auto, node-gpu, node, wasm, cpu (env DALLE_BACKEND)')
    .option('-v, --verbose', 'print the chosen backend and resolved settings')
    .showHelpAfterError('(run with --help for usage)');
}

/** Chooses the backend for a command; prints the choice on --verbose. */
export async function setupBackend(opts: CommonOptions): Promise<BackendInfo> {
  return selectBackend(opts.backend, { log: opts.verbose ? (l) => console.error(l) : undefined });
}

export function parseIntOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got "${value}"`);
    }
    return n;
  };
}

export function parseFloatOption(name: string, min = -Infinity, max = Infinity, opts: { minExclusive?: boolean } = {}): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    const lowOk = opts.minExclusive ? n > min : n >= min;
    if (value.trim() === '' || !Number.isFinite(n) || !lowOk || n > max) {
      throw new InvalidArgumentError(`${name} must be a number in ${opts.minExclusive ? '(' : '['}${min}, ${max}], got "${value}"`);
    }
    return n;
  };
}

/** Runs a command's main function and maps failures to exit codes. */
export async function runCli(program: Command, argv: string[] = process.argv): Promise<void> {
  // commander has already printed its message; usage errors exit 2, --help / --version exit 0.
  // Subcommands copy settings only when created, so set the override on every command.
  const override = (cmd: Command): void => {
    cmd.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
    cmd.commands.forEach(override);
  };
  override(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${program.name()}: error: ${err.message}`);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  }
}

/**
 * Ctrl-C handling for trainers: the first SIGINT aborts the returned signal (the trainer finishes
 * its step and writes a checkpoint), a second one exits at once with 130. Call `dispose()` after.
 */
export function interruptOnSigint(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(); // first: a failing write to a closed stderr must not lose the interrupt
    try {
      console.error('\ninterrupt: finishing this step and writing a checkpoint (Ctrl-C again to quit at once)');
    } catch {
      // stderr closed; the checkpoint is still written
    }
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => void process.off('SIGINT', onSigint) };
}
