// A small builder for ONNX graphs (opset 17, IR version 8) on the protobuf definitions of
// onnx-proto: named inputs/outputs, float/int64 initialisers and nodes with typed attributes.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const ONNX_OPSET = 17; // onnxruntime-node 1.14 (transformers.js 2.17) supports up to 18
export const ONNX_IR_VERSION = 8;

type Dim = number | string; // a fixed size or a symbolic name such as 'batch'
type AttrValue = number | number[] | { float: number } | { floats: number[] };

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(private readonly name: string) {}

  /** A fresh value name derived from `hint`. */
  fresh(hint: string): string {
    let n = hint;
    while (this.used.has(n)) n = `${hint}_${++this.counter}`;
    this.used.add(n);
    return n;
  }

  input(name: string, type: 'float' | 'int64', dims: Dim[]): string {
    this.used.add(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(value: string, name: string, type: 'float' | 'int64', dims: Dim[]): void {
    this.node('Identity', [value], {}, name);
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A float32 initialiser (weights, constants). */
  float(name: string, data: Float32Array | number[], dims: number[]): string {
    const n = this.fresh(name);
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== values.length) throw new Error(`initialiser ${name}: dims [${dims}] hold ${size} values, got ${values.length}`);
    this.initializers.push({ name: n, dataType: onnx.TensorProto.DataType.FLOAT, dims, rawData: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)) });
    return n;
  }

  /** An int64 initialiser (shapes, axes, indices); `dims` defaults to a 1-D list, [] makes a scalar. */
  int64(name: string, values: number[], dims: number[] = [values.length]): string {
    const n = this.fresh(name);
    const raw = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name: n, dataType: onnx.TensorProto.DataType.INT64, dims, rawData: new Uint8Array(raw.buffer) });
    return n;
  }

  /** Adds a node; returns its (single) output name. */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outName?: string): string {
    const out = outName ?? this.fresh(`${op.toLowerCase()}`);
    this.used.add(out);
    const attribute = Object.entries(attrs).map(([name, v]) => attr(name, v));
    this.nodes.push({ opType: op, input: inputs, output: [out], name: this.fresh(`n_${op}`), attribute });
    return out;
  }

  /** Serialised ModelProto bytes. */
  encode(docString = ''): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: 'dalle-clip',
      producerVersion: '1',
      docString,
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: 'float' | 'int64', dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  const elemType = type === 'float' ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64;
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

function attr(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}
