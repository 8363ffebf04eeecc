/** Runs async tasks one at a time, in call order; a failing task does not block the ones after it. */
export class AsyncMutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    // The chain must survive rejections, or one failure would wedge every later task.
    this.tail = result.catch(() => {});
    return result;
  }

  /** Resolves once every task queued so far has settled. */
  idle(): Promise<void> {
    return this.tail.then(() => {});
  }
}
