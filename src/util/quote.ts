/** Most of an untrusted value an error message repeats. */
export const QUOTED_INPUT_CHARS = 40;

/**
 * Untrusted input as a message may repeat it: JSON-escaped (quotes and control characters cannot break the
 * message or a log line), cut to its first `max` characters with its real length after it, so a 19 MiB name
 * is answered with a short message, not with itself.
 */
export function quoteInput(value: string, max = QUOTED_INPUT_CHARS): string {
  if (value.length <= max) return JSON.stringify(value);
  // Cut between code points: half of a surrogate pair would show as garbage.
  const cut = value.slice(0, /[\uD800-\uDBFF]/.test(value[max - 1]) ? max - 1 : max);
  return `${JSON.stringify(cut)}… (${value.length} characters)`;
}
