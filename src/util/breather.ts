/**
 * Lets long synchronous work (room simulation at enrolment) give the event loop a turn: the returned
 * function resolves at once until `everyMs` have passed since the last turn, then after one
 * setImmediate. Live audio, MQTT and the HTTP API stay on time while a long clip is worked on.
 */
export function breather(everyMs = 10): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last < everyMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    last = performance.now();
  };
}
