import { ModelConversionError } from "../errors.js";

/**
 * PyTorch stacks LSTM gate blocks as (input, forget, cell, output); ONNX as (input, output, forget, cell).
 * `rows` = hidden size, `cols` = row length (1 for biases).
 */
export function reorderGates(m: Float32Array, hidden: number, cols: number): Float32Array {
  const block = hidden * cols;
  if (m.length !== 4 * block)
    throw new ModelConversionError(`gate matrix has ${m.length} values, expected ${4 * block}`);
  const out = new Float32Array(m.length);
  const torchOrder = [0, 3, 1, 2]; // ONNX block k comes from PyTorch block torchOrder[k]
  for (let k = 0; k < 4; k++)
    out.set(m.subarray(torchOrder[k] * block, (torchOrder[k] + 1) * block), k * block);
  return out;
}
