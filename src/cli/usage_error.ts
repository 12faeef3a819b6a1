/**
 * The error a command throws when its arguments are wrong, so main can print usage and exit 2.
 * @module
 */

/** Bad command-line arguments. */
export class UsageError extends Error {
  /** Builds a usage error with a message saying what was expected. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
