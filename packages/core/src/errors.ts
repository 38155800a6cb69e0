// The one error type for problems a user can fix (bad flags, missing or mismatched files).
// CLIs print its message on one line and exit with code 2; other errors are bugs and exit 1.

export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Throws a UsageError with `message` unless `condition` holds. */
export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new UsageError(typeof message === 'function' ? message() : message);
}
