/**
 * Hostile input against a running daemon, measured (issue #24): clients that trickle upload bodies while a
 * real upload waits, and a 19 MiB JSON body with an invalid name while /health is polled.
 */
import { connect, type Socket } from "node:net";
import { procRssMb, sleep } from "./live.js";

export interface SlowBodyFigures {
  trickling: number;
  /** From sending the real upload to its 200, retried every second (Retry-After aside) like a patient client. */
  servedAfterMs: number | null;
  /** Statuses the real upload got until served, e.g. [429, 429, 200]. */
  attempts: number[];
  /** When the daemon answered the trickling clients (first and last), from their start; null: not all of them. */
  answeredAfterMs: [number, number] | null;
  /** The statuses it answered them with, e.g. [408, 408, 408, 408]. */
  answers: number[];
}

/**
 * `trickling` clients announce a 192,044-byte WAV to /api/identify and send ten bytes a second for at most
 * `attackSeconds` (the attacker); after one second a real upload is sent, and sent again a second
 * after each refusal, until it is served (or 5 s after the attack).
 */
export async function slowBodyAttack(
  api: string,
  realUpload: Uint8Array,
  options: { trickling: number; attackSeconds: number },
): Promise<SlowBodyFigures> {
  const { hostname, port } = new URL(api);
  const started = performance.now();
  const answeredAt: number[] = [];
  const answers: number[] = [];
  const sockets: Socket[] = [];
  const closed = Array.from(
    { length: options.trickling },
    () =>
      new Promise<void>((resolve) => {
        const socket = connect(Number(port), hostname, () => {
          socket.write(
            "POST /api/identify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: audio/wav\r\nContent-Length: 192044\r\n\r\n",
          );
        });
        sockets.push(socket);
        const timer = setInterval(() => socket.write("RIFFxxxxxx"), 1000);
        socket.once("data", (chunk: Buffer) => {
          answeredAt.push(performance.now() - started);
          answers.push(Number(chunk.toString("latin1").split(" ")[1]));
        });
        socket.on("error", () => {});
        socket.on("close", () => {
          clearInterval(timer);
          resolve();
        });
      }),
  );
  const end = setTimeout(() => {
    for (const socket of sockets) socket.destroy();
  }, options.attackSeconds * 1000);

  await sleep(1000);
  const attempts: number[] = [];
  const sent = performance.now();
  let servedAfterMs: number | null = null;
  // Past the attack too: how long the attack kept it out.
  while (performance.now() - started < options.attackSeconds * 1000 + 5000) {
    const res = await fetch(`${api}/api/identify`, {
      method: "POST",
      headers: { "Content-Type": "audio/wav" },
      body: realUpload,
    });
    await res.arrayBuffer();
    attempts.push(res.status);
    if (res.status === 200) {
      servedAfterMs = performance.now() - sent;
      break;
    }
    await sleep(1000);
  }
  await Promise.all(closed);
  clearTimeout(end);
  const answered =
    answeredAt.length === options.trickling
      ? ([Math.min(...answeredAt), Math.max(...answeredAt)] as [number, number])
      : null;
  return { trickling: options.trickling, servedAfterMs, attempts, answeredAfterMs: answered, answers };
}

export interface HugeNameFigures {
  bodyBytes: number;
  /** Status and size of each answer (create, then rename). */
  answers: Array<{ status: number; bytes: number; ms: number }>;
  rssBeforeMb: number;
  rssMaxMb: number;
  /** A few seconds after the last answer. */
  rssAfterMb: number;
  healthP50Ms: number;
  healthMaxMs: number;
}

/**
 * POST /api/speakers and PATCH /api/speakers/<id> with a 19 MiB JSON body whose name is invalid, while
 * /health is polled every 50 ms and the daemon's RSS is sampled.
 */
export async function hugeNameAttack(api: string, pid: number, speakerId: string): Promise<HugeNameFigures> {
  const body = JSON.stringify({ name: `${"x".repeat(19 * 1024 * 1024)}+` });
  const rssBeforeMb = procRssMb(pid).rss;
  let rssMaxMb = rssBeforeMb;
  const health: number[] = [];
  let attacking = true;
  const poll = (async () => {
    while (attacking) {
      const t = performance.now();
      await fetch(`${api}/health`).then((r) => r.text());
      health.push(performance.now() - t);
      rssMaxMb = Math.max(rssMaxMb, procRssMb(pid).rss);
      await sleep(50);
    }
  })();
  const answers: HugeNameFigures["answers"] = [];
  for (const [method, route] of [
    ["POST", "/api/speakers"],
    ["PATCH", `/api/speakers/${speakerId}`],
  ]) {
    const t = performance.now();
    const res = await fetch(`${api}${route}`, {
      method,
      body,
      headers: { "Content-Type": "application/json" },
    });
    const bytes = (await res.arrayBuffer()).byteLength;
    answers.push({ status: res.status, bytes, ms: performance.now() - t });
  }
  await sleep(3000);
  attacking = false;
  await poll;
  const sorted = [...health].sort((a, b) => a - b);
  return {
    bodyBytes: Buffer.byteLength(body),
    answers,
    rssBeforeMb,
    rssMaxMb,
    rssAfterMb: procRssMb(pid).rss,
    healthP50Ms: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
    healthMaxMs: sorted.at(-1) ?? Number.NaN,
  };
}
