import { connect } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HttpListenError, type RunningHttpServer, startHttpServer } from "../../src/http/server.js";
import {
  librispeech,
  type RealPipeline,
  realPipeline,
  slice,
  type TempRegistry,
  tempRegistry,
} from "../enrolment/helpers.js";
import { recordingLogger } from "../helpers/logger.js";
import { detection, makeApp, rawRequest, type TestApp } from "./helpers.js";

let pipeline: RealPipeline;
beforeAll(async () => {
  pipeline = await realPipeline();
});
afterAll(() => pipeline.stop());

let temp: TempRegistry;
let t: TestApp;
let server: RunningHttpServer;
beforeEach(async () => {
  temp = await tempRegistry();
  await temp.registry.create("Alice");
  t = makeApp(pipeline, temp, { config: { bodyLimitBytes: 1024 * 1024 } });
  server = await startHttpServer(t.app, { host: "127.0.0.1", port: 0 });
});
afterEach(async () => {
  await server.close();
  await temp.dispose();
});

/** Sends raw bytes on a new connection and resolves with everything the server sends before closing (or `until` matches). */
function rawExchange(url: string, request: string, until: RegExp): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = "";
    socket.setEncoding("latin1");
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk: string) => {
      received += chunk;
      if (until.test(received)) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(received));
  });
}

/** Reads an SSE response until `predicate` holds for the text so far. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  state: { text: string },
  predicate: (text: string) => boolean,
): Promise<void> {
  const decoder = new TextDecoder();
  while (!predicate(state.text)) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`stream ended before the expected data; got ${JSON.stringify(state.text)}`);
    state.text += decoder.decode(value, { stream: true });
  }
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

describe("startHttpServer", () => {
  it("refuses a 1 GB Content-Length with 413 without waiting for the body", async () => {
    const response = await rawExchange(
      server.url,
      "POST /api/speakers/alice/samples HTTP/1.1\r\nHost: localhost\r\nContent-Type: audio/wav\r\n" +
        "Content-Length: 1073741824\r\n\r\nRIFF",
      /\r\n\r\n[\s\S]*\}/,
    );
    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(response).toContain('"code":"payload_too_large"');
    expect(temp.registry.get("alice")!.samples).toEqual([]);
    expect(await temp.clipFiles()).toEqual([]);
  });

  it("serves real requests over a socket", async () => {
    const wav = slice(await librispeech("103"), 0, 4);
    const res = await fetch(`${server.url}/api/speakers/alice/samples`, {
      method: "POST",
      body: wav,
      headers: { "Content-Type": "audio/wav" },
    });
    expect(res.status).toBe(201);
    expect(temp.registry.get("alice")!.samples).toHaveLength(1);
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
  });

  it("streams live detections as server-sent events and unsubscribes when the client leaves", async () => {
    const client = new AbortController();
    const res = await fetch(`${server.url}/api/events`, { signal: client.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const state = { text: "" };
    await readUntil(reader, state, (text) => text.includes("event: ready"));
    expect(t.hub.subscriberCount).toBe(1);

    const event = detection({ type: "stopped", durationS: 2.5 });
    t.hub.publish(event);
    t.hub.publish(detection({ turnId: 2, speaker: null, speakerId: null, reason: "unknown" }));
    await readUntil(reader, state, (text) => text.includes('"turnId":2'));
    const messages = state.text
      .split("\n\n")
      .filter((block) => block.includes("event: detection"))
      .map((block) => {
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data: "))
          .map((line) => line.slice(6))
          .join("\n");
        const id = /^id: (.*)$/m.exec(block)?.[1];
        return { id, data: JSON.parse(data) as unknown };
      });
    expect(messages).toEqual([
      { id: "1", data: event },
      { id: "2", data: detection({ turnId: 2, speaker: null, speakerId: null, reason: "unknown" }) },
    ]);

    client.abort();
    await waitFor(() => t.hub.subscriberCount === 0, "the SSE subscription to end");
  });

  it("sends keep-alive comments", async () => {
    const fast = makeApp(pipeline, temp, { config: { heartbeatSeconds: 0.05 } });
    const fastServer = await startHttpServer(fast.app, { host: "127.0.0.1", port: 0 });
    try {
      const res = await fetch(`${fastServer.url}/api/events`);
      const reader = res.body!.getReader();
      await readUntil(reader, { text: "" }, (text) => text.includes(": keep-alive"));
    } finally {
      await fastServer.close();
    }
  });

  it("requires the token for the event stream when one is set", async () => {
    const secured = makeApp(pipeline, temp, { config: { token: "tok" } });
    const securedServer = await startHttpServer(secured.app, { host: "127.0.0.1", port: 0 });
    try {
      expect((await fetch(`${securedServer.url}/api/events`)).status).toBe(401);
      const ok = await fetch(`${securedServer.url}/api/events`, { headers: { Authorization: "Bearer tok" } });
      expect(ok.status).toBe(200);
      await readUntil(ok.body!.getReader(), { text: "" }, (text) => text.includes("event: ready"));
    } finally {
      await securedServer.close();
    }
    expect(secured.hub.subscriberCount).toBe(0);
  });

  it("closes (idempotently) while SSE streams are open, ending them", async () => {
    const res = await fetch(`${server.url}/api/events`);
    const reader = res.body!.getReader();
    const state = { text: "" };
    await readUntil(reader, state, (text) => text.includes("event: ready"));
    const first = server.close();
    const second = server.close();
    await Promise.all([first, second]);
    await server.close();
    // The client sees its stream end.
    for (;;) {
      const { done } = await reader.read().catch(() => ({ done: true }));
      if (done) break;
    }
    expect(t.hub.subscriberCount).toBe(0);
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });

  it("gives a client that trickles its headers or a JSON body 408 and closes its connection", async () => {
    const strict = await startHttpServer(t.app, {
      host: "127.0.0.1",
      port: 0,
      headersTimeoutMs: 1000,
      requestTimeoutMs: 2000,
    });
    try {
      const headers = rawRequest(strict.url, {
        send: ["GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"],
        trickle: { chunk: "X-Slow: 1\r\n", everyMs: 200 },
      });
      const body = rawRequest(strict.url, {
        send: [
          "POST /api/speakers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{",
        ],
        trickle: { chunk: " ", everyMs: 200 },
      });
      for (const [client, limitMs] of [
        [headers, 1000],
        [body, 2000],
      ] as const) {
        const answer = await client.answer;
        expect(answer.status).toBe(408);
        expect(JSON.parse(answer.body).error.code).toBe("request_timeout");
        // Node checks its timeouts once a second.
        expect(answer.ms).toBeGreaterThanOrEqual(limitMs);
        expect(answer.ms).toBeLessThan(limitMs + 2000);
      }
      expect(temp.registry.list().map((s) => s.name)).toEqual(["Alice"]);
    } finally {
      await strict.close();
    }
  });

  it("logs a client that hangs up mid-request at debug level, not as an error", async () => {
    const { logger, lines } = recordingLogger();
    const recorded = makeApp(pipeline, temp, { logger });
    const own = await startHttpServer(recorded.app, { host: "127.0.0.1", port: 0 });
    try {
      for (const send of [
        "POST /api/identify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: audio/wav\r\nContent-Length: 192044\r\n\r\nRIFF",
        'POST /api/speakers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na',
      ]) {
        const client = rawRequest(own.url, { send: [send] });
        await new Promise((r) => setTimeout(r, 100));
        client.hangUp();
        await client.answer;
      }
      await waitFor(() => lines.filter((l) => l === "debug client went away").length === 2, "both hang-ups");
      expect(lines.filter((l) => !l.startsWith("debug"))).toEqual([]);
      expect(temp.registry.list().map((s) => s.name)).toEqual(["Alice"]);
    } finally {
      await own.close();
    }
  });

  it("holds more than ten event streams without a MaxListenersExceededWarning", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on("warning", onWarning);
    try {
      const streams = await Promise.all(
        Array.from({ length: 14 }, async () => {
          const res = await fetch(`${server.url}/api/events`);
          const reader = res.body!.getReader();
          await readUntil(reader, { text: "" }, (text) => text.includes("event: ready"));
          return reader;
        }),
      );
      expect(t.hub.subscriberCount).toBe(14);
      // Warnings are emitted on the next tick.
      await new Promise((r) => setTimeout(r, 50));
      expect(warnings).toEqual([]);
      await server.close();
      for (const reader of streams) {
        while (!(await reader.read().catch(() => ({ done: true }))).done);
      }
      expect(t.hub.subscriberCount).toBe(0);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("reports a port that is already in use", async () => {
    const port = Number(new URL(server.url).port);
    await expect(startHttpServer(t.app, { host: "127.0.0.1", port })).rejects.toBeInstanceOf(HttpListenError);
  });
});
