/** Byte progress of one transfer. */
export interface TransferProgress {
  /** Total bytes transferred so far. */
  update(done: number): void;
  /** The transfer ended (successfully or not). */
  end(): void;
}

export interface ProgressReporter {
  start(label: string, totalBytes: number | undefined): TransferProgress;
}

/** Reports nothing (tests, `--quiet`). */
export const quietProgress: ProgressReporter = {
  start: () => ({ update: () => {}, end: () => {} }),
};

type Clock = () => number;

/**
 * A redrawn bar when `stream` is a TTY; otherwise a plain line every `lineIntervalMs` (journald- and
 * CI-log friendly), plus a final line.
 */
export function streamProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
  options: { lineIntervalMs?: number; clock?: Clock } = {},
): ProgressReporter {
  const tty = stream.isTTY === true;
  const lineInterval = options.lineIntervalMs ?? 5000;
  const clock = options.clock ?? Date.now;
  return {
    start(label, total) {
      let last = clock();
      let lastDone = 0;
      let ended = false;
      const render = (done: number): string => {
        if (total === undefined || total <= 0) return `${label} ${formatBytes(done)}`;
        const frac = Math.min(1, done / total);
        const pct = `${Math.floor(frac * 100)}%`.padStart(4);
        if (!tty) return `${label} ${pct} (${formatBytes(done)} of ${formatBytes(total)})`;
        const width = 30;
        const filled = Math.round(frac * width);
        return `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${pct} ${formatBytes(done)}/${formatBytes(total)}`;
      };
      if (!tty) stream.write(`${render(0)}\n`);
      return {
        update(done) {
          lastDone = done;
          const now = clock();
          if (tty) {
            if (now - last < 100) return;
            last = now;
            stream.write(`\r${render(done)}\x1b[K`);
          } else if (now - last >= lineInterval) {
            last = now;
            stream.write(`${render(done)}\n`);
          }
        },
        end() {
          if (ended) return;
          ended = true;
          stream.write(tty ? `\r${render(lastDone)}\x1b[K\n` : `${render(lastDone)}\n`);
        },
      };
    },
  };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}
