/** Wrong arguments: exit code 2 and the usage text. */
export class UsageError extends Error {
  readonly code = "usage";
}
