// A tiny ONNX ModelProto writer for benchmark baselines: graphs of a few nodes whose big tensors arrive as
// feeds, so the bytes stay small. It writes the protobuf wire format directly (onnx.proto field numbers);
// it is not a general ONNX library and does not check that a graph is valid — onnxruntime does that.

export type OnnxElemType = 'float32' | 'float16' | 'int32' | 'int64' | 'uint8' | 'bool';
export type OnnxAttribute = number | number[] | string | { float: number };

const ELEM_TYPE: Record<OnnxElemType, number> = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float16: 10 };
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;
const IR_VERSION = 8;

/** Protobuf wire encoding of one message: fields appended in order. */
class Message {
  private readonly parts: number[] = [];

  private varint(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      this.parts.push(byte);
    } while (v !== 0n);
  }

  private tag(field: number, wireType: number): void {
    this.varint(BigInt((field << 3) | wireType));
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(BigInt(value));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    this.parts.push(...bytes);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2);
    this.varint(BigInt(data.length));
    for (const b of data) this.parts.push(b);
    return this;
  }

  string(field: number, text: string): this {
    return this.bytes(field, new TextEncoder().encode(text));
  }

  message(field: number, child: Message): this {
    return this.bytes(field, child.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

function valueInfo(name: string, type: OnnxElemType, dims: (number | string)[]): Message {
  const shape = new Message();
  for (const d of dims) {
    shape.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
  }
  const tensorType = new Message().int(1, ELEM_TYPE[type]).message(2, shape);
  return new Message().string(1, name).message(2, new Message().message(1, tensorType));
}

function rawBytes(type: OnnxElemType, values: ArrayLike<number>): Uint8Array {
  switch (type) {
    case 'float32':
      return new Uint8Array(Float32Array.from(values).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from(values).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.from(Array.from(values, (v) => BigInt(v))).buffer);
    case 'float16':
      return new Uint8Array(Uint16Array.from(values).buffer);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values);
  }
}

function attribute(name: string, value: OnnxAttribute): Message {
  const attr = new Message().string(1, name);
  if (typeof value === 'string') return attr.string(4, value).int(20, ATTR_STRING);
  if (Array.isArray(value)) {
    for (const v of value) attr.int(8, v);
    return attr.int(20, ATTR_INTS);
  }
  if (typeof value === 'object') return attr.float(2, value.float).int(20, ATTR_FLOAT);
  return attr.int(3, value).int(20, ATTR_INT);
}

export class OnnxGraphBuilder {
  private readonly graph = new Message();
  private readonly body: Message[] = [];
  private readonly inputs: Message[] = [];
  private readonly outputs: Message[] = [];
  private readonly initializers: Message[] = [];
  private readonly domains = new Set<string>();
  private nodeCount = 0;

  constructor(private readonly name: string) {}

  input(name: string, type: OnnxElemType, dims: (number | string)[]): this {
    this.inputs.push(valueInfo(name, type, dims));
    return this;
  }

  output(name: string, type: OnnxElemType, dims: (number | string)[]): this {
    this.outputs.push(valueInfo(name, type, dims));
    return this;
  }

  /** A constant tensor; `values` are the elements in row-major order (float16 as binary16 bits). */
  initializer(name: string, type: OnnxElemType, dims: number[], values: ArrayLike<number>): this {
    const tensor = new Message();
    for (const d of dims) tensor.int(1, d);
    tensor.int(2, ELEM_TYPE[type]).string(8, name).bytes(9, rawBytes(type, values));
    this.initializers.push(tensor);
    return this;
  }

  /** Integer attributes are numbers; write `{ float: x }` for a float attribute. */
  node(opType: string, inputs: string[], outputs: string[], attributes: Record<string, OnnxAttribute> = {}, domain = ''): this {
    const node = new Message();
    for (const i of inputs) node.string(1, i);
    for (const o of outputs) node.string(2, o);
    node.string(3, `${opType}_${this.nodeCount++}`).string(4, opType);
    for (const [key, value] of Object.entries(attributes)) node.message(5, attribute(key, value));
    if (domain) {
      node.string(7, domain);
      this.domains.add(domain);
    }
    this.body.push(node);
    return this;
  }

  build(opset = 17): Uint8Array {
    for (const node of this.body) this.graph.message(1, node);
    this.graph.string(2, this.name);
    for (const t of this.initializers) this.graph.message(5, t);
    for (const i of this.inputs) this.graph.message(11, i);
    for (const o of this.outputs) this.graph.message(12, o);
    const model = new Message().int(1, IR_VERSION).string(2, 'tar-webgpu bench').message(7, this.graph);
    model.message(8, new Message().string(1, '').int(2, opset));
    for (const domain of this.domains) model.message(8, new Message().string(1, domain).int(2, 1));
    return model.finish();
  }
}
