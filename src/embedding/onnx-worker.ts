import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type * as ort from "onnxruntime-node";
import type { Component } from "../util/lifecycle.js";

/** A float32 tensor as it crosses between threads. */
export interface FloatTensor {
  data: Float32Array;
  dims: number[];
}

/**
 * The worker: one onnxruntime session, one run at a time. onnxruntime-node's run() is synchronous native
 * code (its promise only defers it with setImmediate), so a long one in the main thread stops the event
 * loop. Plain CommonJS given as source (no file of its own for the bundle to miss); onnxruntime-node is
 * required by its resolved path, so it does not matter where the process was started.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const ort = require(workerData.onnxruntime);
ort.InferenceSession.create(workerData.modelPath, workerData.sessionOptions).then(
  (session) => {
    parentPort.postMessage({ ready: true });
    parentPort.on("message", async ({ id, feeds }) => {
      try {
        const tensors = {};
        for (const [name, t] of Object.entries(feeds)) tensors[name] = new ort.Tensor("float32", t.data, t.dims);
        const out = await session.run(tensors);
        const outputs = {};
        for (const [name, t] of Object.entries(out)) outputs[name] = { data: t.data, dims: Array.from(t.dims) };
        parentPort.postMessage({ id, outputs }, Object.values(outputs).map((t) => t.data.buffer));
      } catch (err) {
        parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
      }
    });
  },
  (err) => parentPort.postMessage({ ready: false, error: err instanceof Error ? err.message : String(err) }),
);
`;

type Reply = { id: number; outputs?: Record<string, FloatTensor>; error?: string };

/**
 * An onnxruntime session in a worker thread, for runs long enough to hold up the daemon's event loop
 * (an ECAPA-TDNN voiceprint of a 2-minute upload): /health, MQTT and live decisions go on meanwhile.
 */
export class OnnxWorkerSession implements Component {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly modelPath: string,
    private readonly sessionOptions: ort.InferenceSession.SessionOptions,
  ) {}

  async start(): Promise<void> {
    if (this.worker) return;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        onnxruntime: createRequire(import.meta.url).resolve("onnxruntime-node"),
        modelPath: this.modelPath,
        sessionOptions: this.sessionOptions,
      },
    });
    await new Promise<void>((resolve, reject) => {
      worker.once("message", (m: { ready: boolean; error?: string }) =>
        m.ready ? resolve() : reject(new Error(`onnxruntime worker: ${m.error}`)),
      );
      worker.once("error", reject);
    }).catch(async (err: unknown) => {
      await worker.terminate();
      throw err;
    });
    worker.on("message", (reply: Reply) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      waiting?.resolve(reply);
    });
    // A worker that dies takes its runs with it: they fail, and the next run starts a new worker.
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const { reject } of this.pending.values()) reject(err);
      this.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`onnxruntime worker exited (${code})`)));
    // Idle, it does not keep a finished command alive.
    worker.unref();
    this.worker = worker;
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }

  /** Runs the model on `feeds` (copied to the worker) and returns its outputs. */
  async run(feeds: Record<string, FloatTensor>): Promise<Record<string, FloatTensor>> {
    if (!this.worker) await this.start();
    const worker = this.worker as Worker;
    const id = this.nextId++;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, feeds });
    }).finally(() => {
      if (this.pending.size === 0) worker.unref();
    });
    if (reply.error !== undefined || !reply.outputs) throw new Error(reply.error ?? "no outputs");
    return reply.outputs;
  }
}
