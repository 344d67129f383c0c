/** .npy / .npz reading and writing: round trips of every dtype, headers as NumPy writes them, bad files. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { encodeNpy, parseNpy, readNpyFile, writeNpyFile, type NpyArray, type NpyDType } from '../../src/runtime/npy';
import { encodeNpz, parseNpz, readNpzFile, writeNpzFile } from '../../src/runtime/npz';

const SAMPLES: Record<NpyDType, NpyArray['data']> = {
  float32: Float32Array.from([1.5, -2, 0, 3.25, 1e-3, -7]),
  float64: Float64Array.from([1.5, -2, 0, 3.25, 1e-300, -7]),
  float16: Uint16Array.from([0x3c00, 0xc000, 0, 0x7bff, 0x0001, 0x8000]),
  int8: Int8Array.from([-128, -1, 0, 1, 2, 127]),
  uint8: Uint8Array.from([0, 1, 2, 128, 254, 255]),
  int16: Int16Array.from([-32768, -1, 0, 1, 2, 32767]),
  uint16: Uint16Array.from([0, 1, 2, 3, 65534, 65535]),
  int32: Int32Array.from([-(2 ** 31), -1, 0, 1, 2, 2 ** 31 - 1]),
  uint32: Uint32Array.from([0, 1, 2, 3, 2 ** 32 - 2, 2 ** 32 - 1]),
  int64: BigInt64Array.from([-(2n ** 63n), -1n, 0n, 1n, 2n, 2n ** 63n - 1n]),
  uint64: BigUint64Array.from([0n, 1n, 2n, 3n, 2n ** 64n - 2n, 2n ** 64n - 1n]),
  bool: Uint8Array.from([1, 0, 1, 1, 0, 0]),
};

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-npy-'));
}

/** A .npy file exactly as NumPy lays it out, with any header text (for versions and odd headers). */
function rawNpy(header: string, data: Uint8Array, version = 1): Uint8Array {
  const prefix = version === 1 ? 10 : 12;
  const text = header.padEnd(Math.ceil((prefix + header.length + 1) / 64) * 64 - prefix - 1, ' ') + '\n';
  const head = Buffer.alloc(prefix);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(text.length, 8);
  else head.writeUInt32LE(text.length, 8);
  return Buffer.concat([head, Buffer.from(text, version === 3 ? 'utf8' : 'latin1'), data]);
}

const f32Bytes = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

void describe('npy round trips', () => {
  for (const [dtype, data] of Object.entries(SAMPLES) as [NpyDType, NpyArray['data']][]) {
    void it(`keeps ${dtype} values and shape`, () => {
      const back = parseNpy(encodeNpy({ dtype, shape: [2, 3], data }));
      assert.equal(back.dtype, dtype);
      assert.deepEqual(back.shape, [2, 3]);
      assert.deepEqual(Array.from(back.data as ArrayLike<number | bigint>), Array.from(data as ArrayLike<number | bigint>));
    });
  }

  void it('handles scalars, 1-D and empty arrays', () => {
    for (const shape of [[], [6], [0, 4]]) {
      const count = shape.reduce((n, d) => n * d, 1);
      const back = parseNpy(encodeNpy({ dtype: 'float32', shape, data: new Float32Array(count).fill(2) }));
      assert.deepEqual(back.shape, shape);
      assert.equal(back.data.length, count);
    }
  });

  void it('writes headers NumPy accepts: 64-byte aligned data and a (n,) tuple for 1-D', () => {
    const bytes = encodeNpy({ dtype: 'int64', shape: [3], data: BigInt64Array.from([1n, 2n, 3n]) });
    const headerLength = Buffer.from(bytes).readUInt16LE(8);
    assert.equal((10 + headerLength) % 64, 0);
    const header = Buffer.from(bytes.subarray(10, 10 + headerLength)).toString('latin1');
    assert.match(header, /^\{'descr': '<i8', 'fortran_order': False, 'shape': \(3,\), \} *\n$/);
  });

  void it('reads version 2 and 3 headers and Python 2 long dims', () => {
    const data = f32Bytes([1, 2]);
    for (const version of [2, 3]) {
      const arr = parseNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data, version));
      assert.deepEqual(Array.from(arr.data as Float32Array), [1, 2]);
    }
    assert.deepEqual(parseNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1L, 2L), }", data)).shape, [1, 2]);
  });

  void it('reads and writes files', () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'a.npy');
      writeNpyFile(file, { dtype: 'uint8', shape: [2], data: Uint8Array.from([7, 8]) });
      assert.deepEqual(Array.from(readNpyFile(file).data as Uint8Array), [7, 8]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

void describe('npy errors name the file and the problem', () => {
  const data = f32Bytes([1, 2, 3, 4, 5, 6]);
  const cases: [string, Uint8Array, RegExp][] = [
    ['bad magic', Buffer.from('not numpy at all'), /^x\.npy: not a \.npy file/],
    ['fortran order', rawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data), /^x\.npy: Fortran-ordered/],
    ['big endian', rawNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", data), /^x\.npy: big-endian dtype '>f4'/],
    ['complex dtype', rawNpy("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", data), /^x\.npy: unsupported dtype '<c8'/],
    ['structured dtype', rawNpy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", data), /^x\.npy: structured/],
    ['truncated data', rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", data), /^x\.npy: truncated: shape \[4, 3\] of float32 needs 48 bytes of data, the file has 24/],
    ['unknown version', Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 9, 0, 0, 0, 0, 0]), /^x\.npy: unsupported \.npy format version 9\.0/],
    ['header past the end', Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0xff, 0x00, 0x7b]), /^x\.npy: truncated header/],
    ['no shape', rawNpy("{'descr': '<f4', 'fortran_order': False, }", data), /^x\.npy: header has no shape/],
  ];
  for (const [label, bytes, expected] of cases) {
    void it(label, () => assert.throws(() => parseNpy(bytes, 'x.npy'), (err: Error) => err.name === 'NpyFormatError' && expected.test(err.message)));
  }

  void it('a missing file is one line naming it', () => {
    assert.throws(() => readNpyFile('/no/such/dir/a.npy'), /no such file: \/no\/such\/dir\/a\.npy/);
  });

  void it('refuses to write data that does not fill the shape', () => {
    assert.throws(() => encodeNpy({ dtype: 'float32', shape: [2, 2], data: new Float32Array(3) }), /needs 4 elements, got 3/);
    assert.throws(() => encodeNpy({ dtype: 'float64', shape: [2], data: new Float32Array(2) }), /8-byte elements/);
  });
});

void describe('npz', () => {
  const arrays = {
    input_ids: { dtype: 'int64' as const, shape: [1, 3], data: BigInt64Array.from([5n, 6n, 7n]) },
    pixel: { dtype: 'float32' as const, shape: [1, 2], data: Float32Array.from([0.5, -0.5]) },
  };

  for (const compress of [false, true]) {
    void it(`round trips ${compress ? 'deflated' : 'stored'} archives with keys without .npy`, () => {
      const back = parseNpz(encodeNpz(arrays, { compress }));
      assert.deepEqual([...back.keys()].sort(), ['input_ids', 'pixel']);
      assert.deepEqual(Array.from(back.get('input_ids')?.data as BigInt64Array), [5n, 6n, 7n]);
      assert.deepEqual(back.get('pixel')?.shape, [1, 2]);
    });
  }

  void it('reads and writes files', () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 's.npz');
      writeNpzFile(file, new Map(Object.entries(arrays)), { compress: true });
      assert.equal(readNpzFile(file).size, 2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('names the file and the entry in errors', () => {
    assert.throws(() => parseNpz(Buffer.from('hello'), 'd.npz'), /d\.npz: not a \.npz file/);
    assert.throws(() => parseNpz(zipSync({ 'notes.txt': Buffer.from('x') }), 'd.npz'), /d\.npz: entry 'notes\.txt' is not a \.npy array/);
    assert.throws(() => parseNpz(zipSync({ 'x.npy': Buffer.from('garbage!!!!') }), 'd.npz'), /d\.npz \[x\]: not a \.npy file/);
    const zip = encodeNpz(arrays);
    assert.throws(() => parseNpz(zip.subarray(0, zip.length - 40), 'd.npz'), /d\.npz: cannot unzip/);
  });
});
