/**
 * Small constructors for ONNX messages, used by passes that create nodes and by the sample-model
 * generators. They fill every repeated field so the objects look exactly like decoded ones.
 */
import { DataType } from './dtypes';
import type { AttributeProto, GraphProto, Int64, ModelProto, NodeProto, TensorProto, TypeProto, ValueInfoProto } from './types';
import { AttributeType } from './types';

export function tensorProto(fields: Partial<TensorProto> & { name?: string; dims: Int64[]; data_type: number }): TensorProto {
  return {
    float_data: [],
    int32_data: [],
    string_data: [],
    int64_data: [],
    external_data: [],
    double_data: [],
    uint64_data: [],
    metadata_props: [],
    ...fields,
  };
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function floatTensor(name: string, dims: number[], values: Float32Array | number[]): TensorProto {
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  return tensorProto({ name, dims, data_type: DataType.FLOAT, raw_data: bytesOf(data) });
}

export function int64Tensor(name: string, dims: number[], values: (number | bigint)[]): TensorProto {
  return tensorProto({ name, dims, data_type: DataType.INT64, raw_data: bytesOf(BigInt64Array.from(values.map((v) => BigInt(v)))) });
}

export function rawTensor(name: string, dims: number[], dataType: number, data: ArrayBufferView): TensorProto {
  return tensorProto({ name, dims, data_type: dataType, raw_data: bytesOf(data) });
}

function attributeBase(name: string, type: number): AttributeProto {
  return { name, type, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparse_tensors: [], type_protos: [] };
}

export type AttrValue = number | string | number[] | TensorProto | GraphProto | { floats: number[] } | { int: number } | { float: number };

/** Builds an attribute; plain numbers are INTs when integral (pass {float: x} to force a FLOAT). */
export function attribute(name: string, value: AttrValue): AttributeProto {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { ...attributeBase(name, AttributeType.INT), i: value } : { ...attributeBase(name, AttributeType.FLOAT), f: value };
  }
  if (typeof value === 'string') return { ...attributeBase(name, AttributeType.STRING), s: Buffer.from(value, 'utf8') };
  if (Array.isArray(value)) return { ...attributeBase(name, AttributeType.INTS), ints: value };
  if ('floats' in value) return { ...attributeBase(name, AttributeType.FLOATS), floats: value.floats };
  if ('int' in value) return { ...attributeBase(name, AttributeType.INT), i: value.int };
  if ('float' in value) return { ...attributeBase(name, AttributeType.FLOAT), f: value.float };
  if ('node' in value) return { ...attributeBase(name, AttributeType.GRAPH), g: value };
  return { ...attributeBase(name, AttributeType.TENSOR), t: value };
}

export function node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, name?: string, domain?: string): NodeProto {
  return {
    op_type: opType,
    input: inputs,
    output: outputs,
    name: name ?? outputs[0],
    domain,
    attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    metadata_props: [],
    device_configurations: [],
  };
}

export function tensorType(elemType: number, shape: (number | string | undefined)[] | undefined): TypeProto {
  return {
    tensor_type: {
      elem_type: elemType,
      shape: shape === undefined ? undefined : { dim: shape.map((d) => (typeof d === 'number' ? { dim_value: d } : d === undefined ? {} : { dim_param: d })) },
    },
  };
}

export function valueInfo(name: string, elemType: number, shape: (number | string | undefined)[] | undefined): ValueInfoProto {
  return { name, type: tensorType(elemType, shape), metadata_props: [] };
}

export function graph(fields: Partial<GraphProto> & { name: string }): GraphProto {
  return {
    node: [],
    initializer: [],
    sparse_initializer: [],
    input: [],
    output: [],
    value_info: [],
    quantization_annotation: [],
    metadata_props: [],
    ...fields,
  };
}

export function model(g: GraphProto, opset = 17, extraOpsets: { domain: string; version: number }[] = []): ModelProto {
  return {
    ir_version: 8,
    producer_name: 'onnx-lean',
    producer_version: '0.1.0',
    graph: g,
    opset_import: [{ domain: '', version: opset }, ...extraOpsets],
    metadata_props: [],
    training_info: [],
    functions: [],
    configuration: [],
  };
}
