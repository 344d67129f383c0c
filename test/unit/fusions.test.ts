/** Fusion counting on a hand-built "optimized" model, subgraphs included. */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { countFusions } from '../../src/analysis/fusions';
import { graph, model, node, valueInfo } from '../../src/onnx/build';
import { DataType } from '../../src/onnx';

const MS = 'com.microsoft';

function optimizedModel() {
  const branch = graph({ name: 'then', node: [node('MatMulNBits', ['h', 'qw', 'scales'], ['b_out'], {}, undefined, MS)], output: [valueInfo('b_out', DataType.FLOAT, undefined)] });
  const nodes = [
    node('QuantizeLinear', ['x', 's', 'z'], ['xq']),
    node('QLinearConv', ['xq', 's', 'z', 'w', 's', 'z', 's', 'z'], ['c1']),
    node('QLinearConv', ['c1', 's', 'z', 'w', 's', 'z', 's', 'z'], ['c2']),
    node('DequantizeLinear', ['c2', 's', 'z'], ['c2f']),
    node('Conv', ['c2f', 'wf'], ['conv_f']), // DQ -> float Conv: not fused
    node('DequantizeLinear', ['c1', 's', 'z'], ['c1f']),
    node('Add', ['c1f', 'conv_f'], ['sum']), // DQ -> float Add
    node('Mul', ['c1f', 'sum'], ['prod']), // the same DQ feeds a second float op
    node('QuantizeLinear', ['prod', 's', 'z'], ['pq']),
    node('DequantizeLinear', ['pq', 's', 'z'], ['pf']), // a Q->DQ pair left behind
    node('DequantizeLinear', ['c2', 's', 'z'], ['out']), // feeds only the graph output: fine
    node('FusedConv', ['pf', 'wf'], ['fc'], { activation: 'Relu' }, undefined, MS),
    node('DynamicQuantizeLinear', ['fc'], ['dq', 'dq_s', 'dq_z']),
    node('MatMulInteger', ['dq', 'wi', 'dq_z'], ['mi']),
    node('If', ['cond'], ['h2'], { then_branch: branch, else_branch: branch }),
  ];
  const outputs = ['out', 'mi', 'h2'].map((n) => valueInfo(n, DataType.FLOAT, undefined));
  return model(graph({ name: 'optimized', node: nodes, input: [valueInfo('x', DataType.FLOAT, [1])], output: outputs }), 17, [{ domain: MS, version: 1 }]);
}

void describe('fusions', () => {
  void test('counts fused and leftover ops across subgraphs', () => {
    const report = countFusions(optimizedModel());
    assert.deepEqual(report.fused, { QLinearConv: 2, FusedConv: 1, MatMulNBits: 2 });
    assert.deepEqual(report.unfused, { QuantizeLinear: 2, DequantizeLinear: 4, DynamicQuantizeLinear: 1, MatMulInteger: 1 });
  });

  void test('warnings explain each leftover', () => {
    const text = countFusions(optimizedModel()).warnings.join('\n');
    assert.match(text, /3 DequantizeLinear nodes feed float ops \(Conv ×1, Add ×1, Mul ×1, FusedConv ×1\)/);
    assert.match(text, /run in fp32/);
    assert.match(text, /1 QuantizeLinear→DequantizeLinear pair remain/);
    assert.match(text, /1 MatMulInteger node were not fused/);
    assert.match(text, /1 DynamicQuantizeLinear node remain/);
    assert.doesNotMatch(text, /fused none of them/);
  });

  void test('quantization ops without any quantized kernel', () => {
    const m = model(graph({ name: 'g', node: [node('QuantizeLinear', ['x', 's'], ['q']), node('DequantizeLinear', ['q', 's'], ['d']), node('MatMul', ['d', 'w'], ['y'])] }));
    const report = countFusions(m);
    assert.deepEqual(report.fused, {});
    assert.match(report.warnings.join('\n'), /fused none of them/);
    assert.match(report.warnings.join('\n'), /1 DequantizeLinear node feed float ops \(MatMul ×1\)/);
  });

  void test('a float model has nothing to report', () => {
    const m = model(graph({ name: 'g', node: [node('MatMul', ['x', 'w'], ['y'])] }));
    assert.deepEqual(countFusions(m), { fused: {}, unfused: {}, warnings: [] });
  });
});
