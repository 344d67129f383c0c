/**
 * In-memory shapes of the onnx.proto messages, as produced by `decodeModel` and consumed by
 * `encodeModel`. Property names are the proto field names. Singular fields are optional (proto2
 * presence); repeated fields are always arrays after decoding (possibly empty).
 *
 * int64 values are JS numbers when they fit in 2^53 and bigints otherwise (INT64_MAX is a common
 * Slice end), so nothing is rounded on a round trip. Bytes fields are views of the file buffer.
 */

export type Int64 = number | bigint;

/** Raw wire bytes of fields this schema does not know, kept so that a round trip loses nothing. */
export interface Unknown {
  $unknown?: Uint8Array[];
}

export interface ModelProto extends Unknown {
  ir_version?: Int64;
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: Int64;
  doc_string?: string;
  graph?: GraphProto;
  opset_import: OperatorSetIdProto[];
  metadata_props: StringStringEntryProto[];
  training_info: Unknown[];
  functions: FunctionProto[];
  configuration: Unknown[];
}

export interface OperatorSetIdProto extends Unknown {
  domain?: string;
  version?: Int64;
}

export interface StringStringEntryProto extends Unknown {
  key?: string;
  value?: string;
}

export interface GraphProto extends Unknown {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  sparse_initializer: SparseTensorProto[];
  doc_string?: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  value_info: ValueInfoProto[];
  quantization_annotation: TensorAnnotation[];
  metadata_props: StringStringEntryProto[];
}

export interface NodeProto extends Unknown {
  input: string[];
  output: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  overload?: string;
  attribute: AttributeProto[];
  doc_string?: string;
  metadata_props: StringStringEntryProto[];
  device_configurations: Unknown[];
}

/** AttributeProto.AttributeType */
export const enum AttributeType {
  UNDEFINED = 0,
  FLOAT = 1,
  INT = 2,
  STRING = 3,
  TENSOR = 4,
  GRAPH = 5,
  FLOATS = 6,
  INTS = 7,
  STRINGS = 8,
  TENSORS = 9,
  GRAPHS = 10,
  SPARSE_TENSOR = 11,
  SPARSE_TENSORS = 12,
  TYPE_PROTO = 13,
  TYPE_PROTOS = 14,
}

export interface AttributeProto extends Unknown {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparse_tensor?: SparseTensorProto;
  tp?: TypeProto;
  floats: number[];
  ints: Int64[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
  sparse_tensors: SparseTensorProto[];
  type_protos: TypeProto[];
}

export interface ValueInfoProto extends Unknown {
  name?: string;
  type?: TypeProto;
  doc_string?: string;
  metadata_props: StringStringEntryProto[];
}

export interface TensorProto extends Unknown {
  dims: Int64[];
  data_type?: number;
  segment?: Unknown & { begin?: Int64; end?: Int64 };
  float_data: Float32Array | number[];
  int32_data: Int32Array | number[];
  string_data: Uint8Array[];
  int64_data: Int64[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  external_data: StringStringEntryProto[];
  data_location?: number;
  double_data: Float64Array | number[];
  uint64_data: Int64[];
  metadata_props: StringStringEntryProto[];
}

export interface SparseTensorProto extends Unknown {
  values?: TensorProto;
  indices?: TensorProto;
  dims: Int64[];
}

export interface TensorAnnotation extends Unknown {
  tensor_name?: string;
  quant_parameter_tensor_names: StringStringEntryProto[];
}

export interface TensorShapeProto extends Unknown {
  dim: Dimension[];
}

export interface Dimension extends Unknown {
  dim_value?: Int64;
  dim_param?: string;
  denotation?: string;
}

export interface TypeProto extends Unknown {
  tensor_type?: Unknown & { elem_type?: number; shape?: TensorShapeProto };
  sparse_tensor_type?: Unknown & { elem_type?: number; shape?: TensorShapeProto };
  sequence_type?: Unknown & { elem_type?: TypeProto };
  optional_type?: Unknown & { elem_type?: TypeProto };
  map_type?: Unknown & { key_type?: number; value_type?: TypeProto };
  opaque_type?: Unknown & { domain?: string; name?: string };
  denotation?: string;
}

export interface FunctionProto extends Unknown {
  name?: string;
  domain?: string;
  overload?: string;
  input: string[];
  output: string[];
  attribute: string[];
  attribute_proto: AttributeProto[];
  node: NodeProto[];
  doc_string?: string;
  opset_import: OperatorSetIdProto[];
  value_info: ValueInfoProto[];
  metadata_props: StringStringEntryProto[];
}
