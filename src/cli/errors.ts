/** Wrong arguments: exit code 2 and the usage text. */
export class UsageError extends Error {
  readonly code = "usage";
}

/** Runs `work`, prefixing any failure with the file it concerns (a one-line reason names the culprit). */
export async function aboutFile<T>(file: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw new Error(`${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
