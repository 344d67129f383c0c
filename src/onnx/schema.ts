/**
 * The wire layout of onnx.proto (IR version 14, onnx/onnx main as of 2026-08), as data.
 * The codec in `codec.ts` is driven by this table; property names are the proto field names.
 * Field numbers and types must match onnx.proto exactly; test/unit/schema.test.ts checks
 * them against the reference copy of onnx.proto shipped in test/fixtures.
 */

/** How a field's value is represented on the wire and in memory. */
export type ScalarKind = 'int64' | 'uint64' | 'int32' | 'float' | 'double' | 'string' | 'bytes';
export type FieldKind = ScalarKind | 'message';

export interface FieldSpec {
  readonly no: number;
  readonly name: string;
  readonly kind: FieldKind;
  /** 'one' = optional singular; 'many' = repeated, unpacked on write; 'packed' = repeated, packed on write. */
  readonly card: 'one' | 'many' | 'packed';
  /** Message type name when kind is 'message'. */
  readonly type?: string;
  /** Decode a packed numeric field into a typed array instead of a JS array. */
  readonly typed?: 'f32' | 'f64' | 'i32';
}

export type MessageSpec = readonly FieldSpec[];

const one = (no: number, name: string, kind: FieldKind, type?: string): FieldSpec => ({ no, name, kind, card: 'one', type });
const many = (no: number, name: string, kind: FieldKind, type?: string): FieldSpec => ({ no, name, kind, card: 'many', type });
const packed = (no: number, name: string, kind: ScalarKind, typed?: FieldSpec['typed']): FieldSpec => ({ no, name, kind, card: 'packed', typed });
const msg = (no: number, name: string, type: string): FieldSpec => one(no, name, 'message', type);
const msgs = (no: number, name: string, type: string): FieldSpec => many(no, name, 'message', type);

export const SCHEMA: Readonly<Record<string, MessageSpec>> = {
  ModelProto: [
    one(1, 'ir_version', 'int64'),
    one(2, 'producer_name', 'string'),
    one(3, 'producer_version', 'string'),
    one(4, 'domain', 'string'),
    one(5, 'model_version', 'int64'),
    one(6, 'doc_string', 'string'),
    msg(7, 'graph', 'GraphProto'),
    msgs(8, 'opset_import', 'OperatorSetIdProto'),
    msgs(14, 'metadata_props', 'StringStringEntryProto'),
    msgs(20, 'training_info', 'TrainingInfoProto'),
    msgs(25, 'functions', 'FunctionProto'),
    msgs(26, 'configuration', 'DeviceConfigurationProto'),
  ],
  OperatorSetIdProto: [one(1, 'domain', 'string'), one(2, 'version', 'int64')],
  StringStringEntryProto: [one(1, 'key', 'string'), one(2, 'value', 'string')],
  DeviceConfigurationProto: [one(1, 'name', 'string'), one(2, 'num_devices', 'int32'), many(3, 'device', 'string')],
  TrainingInfoProto: [
    msg(1, 'initialization', 'GraphProto'),
    msg(2, 'algorithm', 'GraphProto'),
    msgs(3, 'initialization_binding', 'StringStringEntryProto'),
    msgs(4, 'update_binding', 'StringStringEntryProto'),
  ],
  GraphProto: [
    msgs(1, 'node', 'NodeProto'),
    one(2, 'name', 'string'),
    msgs(5, 'initializer', 'TensorProto'),
    one(10, 'doc_string', 'string'),
    msgs(11, 'input', 'ValueInfoProto'),
    msgs(12, 'output', 'ValueInfoProto'),
    msgs(13, 'value_info', 'ValueInfoProto'),
    msgs(14, 'quantization_annotation', 'TensorAnnotation'),
    msgs(15, 'sparse_initializer', 'SparseTensorProto'),
    msgs(16, 'metadata_props', 'StringStringEntryProto'),
  ],
  NodeProto: [
    many(1, 'input', 'string'),
    many(2, 'output', 'string'),
    one(3, 'name', 'string'),
    one(4, 'op_type', 'string'),
    msgs(5, 'attribute', 'AttributeProto'),
    one(6, 'doc_string', 'string'),
    one(7, 'domain', 'string'),
    one(8, 'overload', 'string'),
    msgs(9, 'metadata_props', 'StringStringEntryProto'),
    msgs(10, 'device_configurations', 'NodeDeviceConfigurationProto'),
  ],
  NodeDeviceConfigurationProto: [
    one(1, 'configuration_id', 'string'),
    msgs(2, 'sharding_spec', 'ShardingSpecProto'),
    one(3, 'pipeline_stage', 'int32'),
  ],
  ShardingSpecProto: [
    one(1, 'tensor_name', 'string'),
    many(2, 'device', 'int64'),
    msgs(3, 'index_to_device_group_map', 'IntIntListEntryProto'),
    msgs(4, 'sharded_dim', 'ShardedDimProto'),
  ],
  IntIntListEntryProto: [one(1, 'key', 'int64'), many(2, 'value', 'int64')],
  ShardedDimProto: [one(1, 'axis', 'int64'), msgs(2, 'simple_sharding', 'SimpleShardedDimProto')],
  SimpleShardedDimProto: [one(1, 'dim_value', 'int64'), one(2, 'dim_param', 'string'), one(3, 'num_shards', 'int64')],
  AttributeProto: [
    one(1, 'name', 'string'),
    one(2, 'f', 'float'),
    one(3, 'i', 'int64'),
    one(4, 's', 'bytes'),
    msg(5, 't', 'TensorProto'),
    msg(6, 'g', 'GraphProto'),
    many(7, 'floats', 'float'),
    many(8, 'ints', 'int64'),
    many(9, 'strings', 'bytes'),
    msgs(10, 'tensors', 'TensorProto'),
    msgs(11, 'graphs', 'GraphProto'),
    one(13, 'doc_string', 'string'),
    msg(14, 'tp', 'TypeProto'),
    msgs(15, 'type_protos', 'TypeProto'),
    one(20, 'type', 'int32'),
    one(21, 'ref_attr_name', 'string'),
    msg(22, 'sparse_tensor', 'SparseTensorProto'),
    msgs(23, 'sparse_tensors', 'SparseTensorProto'),
  ],
  ValueInfoProto: [
    one(1, 'name', 'string'),
    msg(2, 'type', 'TypeProto'),
    one(3, 'doc_string', 'string'),
    msgs(4, 'metadata_props', 'StringStringEntryProto'),
  ],
  TensorProto: [
    many(1, 'dims', 'int64'),
    one(2, 'data_type', 'int32'),
    msg(3, 'segment', 'TensorProto.Segment'),
    packed(4, 'float_data', 'float', 'f32'),
    packed(5, 'int32_data', 'int32', 'i32'),
    many(6, 'string_data', 'bytes'),
    packed(7, 'int64_data', 'int64'),
    one(8, 'name', 'string'),
    one(9, 'raw_data', 'bytes'),
    packed(10, 'double_data', 'double', 'f64'),
    packed(11, 'uint64_data', 'uint64'),
    one(12, 'doc_string', 'string'),
    msgs(13, 'external_data', 'StringStringEntryProto'),
    one(14, 'data_location', 'int32'),
    msgs(16, 'metadata_props', 'StringStringEntryProto'),
  ],
  'TensorProto.Segment': [one(1, 'begin', 'int64'), one(2, 'end', 'int64')],
  SparseTensorProto: [msg(1, 'values', 'TensorProto'), msg(2, 'indices', 'TensorProto'), many(3, 'dims', 'int64')],
  TensorAnnotation: [one(1, 'tensor_name', 'string'), msgs(2, 'quant_parameter_tensor_names', 'StringStringEntryProto')],
  TensorShapeProto: [msgs(1, 'dim', 'TensorShapeProto.Dimension')],
  'TensorShapeProto.Dimension': [one(1, 'dim_value', 'int64'), one(2, 'dim_param', 'string'), one(3, 'denotation', 'string')],
  TypeProto: [
    msg(1, 'tensor_type', 'TypeProto.Tensor'),
    msg(4, 'sequence_type', 'TypeProto.Sequence'),
    msg(5, 'map_type', 'TypeProto.Map'),
    one(6, 'denotation', 'string'),
    msg(7, 'opaque_type', 'TypeProto.Opaque'),
    msg(8, 'sparse_tensor_type', 'TypeProto.SparseTensor'),
    msg(9, 'optional_type', 'TypeProto.Optional'),
  ],
  'TypeProto.Tensor': [one(1, 'elem_type', 'int32'), msg(2, 'shape', 'TensorShapeProto')],
  'TypeProto.SparseTensor': [one(1, 'elem_type', 'int32'), msg(2, 'shape', 'TensorShapeProto')],
  'TypeProto.Sequence': [msg(1, 'elem_type', 'TypeProto')],
  'TypeProto.Optional': [msg(1, 'elem_type', 'TypeProto')],
  'TypeProto.Map': [one(1, 'key_type', 'int32'), msg(2, 'value_type', 'TypeProto')],
  'TypeProto.Opaque': [one(1, 'domain', 'string'), one(2, 'name', 'string')],
  FunctionProto: [
    one(1, 'name', 'string'),
    many(4, 'input', 'string'),
    many(5, 'output', 'string'),
    many(6, 'attribute', 'string'),
    msgs(7, 'node', 'NodeProto'),
    one(8, 'doc_string', 'string'),
    msgs(9, 'opset_import', 'OperatorSetIdProto'),
    one(10, 'domain', 'string'),
    msgs(11, 'attribute_proto', 'AttributeProto'),
    msgs(12, 'value_info', 'ValueInfoProto'),
    one(13, 'overload', 'string'),
    msgs(14, 'metadata_props', 'StringStringEntryProto'),
  ],
};
