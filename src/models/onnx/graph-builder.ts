import {
  type AttributeValue,
  encodeModel,
  OnnxDataType,
  type OnnxDim,
  type OnnxNode,
  type OnnxTensor,
} from "./model.js";

/** A float tensor the graph takes or gives. */
export interface FloatPort {
  name: string;
  shape: readonly OnnxDim[];
}

/**
 * Accumulates ONNX nodes and initializers with generated names, so converters read like the forward
 * pass they reproduce: `const y = g.op("Relu", [x])`.
 */
export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private counter = 0;
  private readonly constants = new Map<string, string>();

  /** Adds a node and returns its (first) output name. */
  op(opType: string, inputs: readonly string[], attributes?: Record<string, AttributeValue>): string {
    return this.opN(opType, inputs, 1, attributes)[0];
  }

  /** Adds a node with `outputs` outputs and returns their names. */
  opN(
    opType: string,
    inputs: readonly string[],
    outputs: number,
    attributes?: Record<string, AttributeValue>,
  ): string[] {
    const name = `${opType.toLowerCase()}_${this.counter++}`;
    const names = Array.from({ length: outputs }, (_, i) => (outputs === 1 ? name : `${name}_${i}`));
    this.nodes.push({ opType, name, inputs, outputs: names, attributes });
    return names;
  }

  /** The ONNX model (IR 8, opset 17) of what was built: float inputs in, float outputs out. */
  toModel(
    about: {
      graph: string;
      producer: string;
      version: string;
      docString?: string;
      metadata?: Record<string, string>;
    },
    input: FloatPort | readonly FloatPort[],
    output: FloatPort | readonly FloatPort[],
  ): Uint8Array {
    const float = (ports: FloatPort | readonly FloatPort[]) =>
      (Array.isArray(ports) ? ports : [ports]).map((p: FloatPort) => ({
        ...p,
        elemType: OnnxDataType.FLOAT,
      }));
    return encodeModel({
      irVersion: 8,
      opsetVersion: 17,
      producerName: about.producer,
      producerVersion: about.version,
      docString: about.docString,
      metadata: about.metadata,
      graph: {
        name: about.graph,
        nodes: this.nodes,
        initializers: this.initializers,
        inputs: float(input),
        outputs: float(output),
      },
    });
  }

  /** Renames the output of the last node (graph outputs need fixed names). */
  nameLastOutput(name: string): string {
    const last = this.nodes[this.nodes.length - 1];
    this.nodes[this.nodes.length - 1] = { ...last, outputs: [name, ...last.outputs.slice(1)] };
    return name;
  }

  floats(label: string, dims: readonly number[], data: Float32Array): string {
    const name = `${label}_${this.counter++}`;
    this.initializers.push({ name, dims, dataType: OnnxDataType.FLOAT, data });
    return name;
  }

  /** A float scalar (rank 0), shared between uses. */
  scalar(value: number): string {
    const key = `f${value}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = this.floats("const", [], Float32Array.of(value));
      this.constants.set(key, name);
    }
    return name;
  }

  /** An int64 vector (axes, pads, shapes), shared between uses. */
  int64s(values: readonly number[]): string {
    const key = `i${values.join(",")}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = `ints_${this.counter++}`;
      this.initializers.push({
        name,
        dims: [values.length],
        dataType: OnnxDataType.INT64,
        data: BigInt64Array.from(values, BigInt),
      });
      this.constants.set(key, name);
    }
    return name;
  }
}
