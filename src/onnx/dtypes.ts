/** TensorProto.DataType: codes, names, storage widths. */

export const enum DataType {
  UNDEFINED = 0,
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  COMPLEX64 = 14,
  COMPLEX128 = 15,
  BFLOAT16 = 16,
  FLOAT8E4M3FN = 17,
  FLOAT8E4M3FNUZ = 18,
  FLOAT8E5M2 = 19,
  FLOAT8E5M2FNUZ = 20,
  UINT4 = 21,
  INT4 = 22,
  FLOAT4E2M1 = 23,
  FLOAT8E8M0 = 24,
  UINT2 = 25,
  INT2 = 26,
}

interface DTypeInfo {
  readonly name: string;
  /** Storage bits per element in raw_data (sub-byte types are packed, low nibble first). */
  readonly bits: number;
  readonly floating: boolean;
}

const INFO: Readonly<Record<number, DTypeInfo>> = {
  1: { name: 'float32', bits: 32, floating: true },
  2: { name: 'uint8', bits: 8, floating: false },
  3: { name: 'int8', bits: 8, floating: false },
  4: { name: 'uint16', bits: 16, floating: false },
  5: { name: 'int16', bits: 16, floating: false },
  6: { name: 'int32', bits: 32, floating: false },
  7: { name: 'int64', bits: 64, floating: false },
  8: { name: 'string', bits: 0, floating: false },
  9: { name: 'bool', bits: 8, floating: false },
  10: { name: 'float16', bits: 16, floating: true },
  11: { name: 'float64', bits: 64, floating: true },
  12: { name: 'uint32', bits: 32, floating: false },
  13: { name: 'uint64', bits: 64, floating: false },
  14: { name: 'complex64', bits: 64, floating: true },
  15: { name: 'complex128', bits: 128, floating: true },
  16: { name: 'bfloat16', bits: 16, floating: true },
  17: { name: 'float8e4m3fn', bits: 8, floating: true },
  18: { name: 'float8e4m3fnuz', bits: 8, floating: true },
  19: { name: 'float8e5m2', bits: 8, floating: true },
  20: { name: 'float8e5m2fnuz', bits: 8, floating: true },
  21: { name: 'uint4', bits: 4, floating: false },
  22: { name: 'int4', bits: 4, floating: false },
  23: { name: 'float4e2m1', bits: 4, floating: true },
  24: { name: 'float8e8m0', bits: 8, floating: true },
  25: { name: 'uint2', bits: 2, floating: false },
  26: { name: 'int2', bits: 2, floating: false },
};

export function dtypeName(code: number | undefined): string {
  return INFO[code ?? 0]?.name ?? `dtype(${code ?? 0})`;
}

export function dtypeBits(code: number | undefined): number {
  return INFO[code ?? 0]?.bits ?? 0;
}

export function isFloating(code: number | undefined): boolean {
  return INFO[code ?? 0]?.floating ?? false;
}

export function isKnownDType(code: number | undefined): boolean {
  return INFO[code ?? 0] !== undefined;
}

/** Bytes that `count` elements take in raw_data (sub-byte types round up to whole bytes). */
export function rawByteLength(code: number | undefined, count: number): number {
  return Math.ceil((count * dtypeBits(code)) / 8);
}

/** onnxruntime-node's tensor type names, for the dtypes it can feed. */
export const ORT_TYPE: Readonly<Record<number, string>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
};
