/** Which student layers distill refits, each with its teacher target; the rest are reported as skipped. */
import { UserError } from '../../core/errors';
import type { PassContext, PassReport } from '../pass';
import { modelScopes, reportName, type Scope } from '../quant/weights';
import { describeLayer, isCandidateOp, type DistillLayer } from './layers';
import { PASS, type DistillOptions } from './options';
import { matchTeacher, type TeacherGraph, type TeacherTarget } from './teacher';

export interface Candidate {
  layer: DistillLayer;
  target: TeacherTarget;
  /** For planWaves. */
  node: DistillLayer['node'];
  input: string;
}

function checkNames(wanted: ReadonlySet<string>, known: ReadonlySet<string>): void {
  const unknown = [...wanted].filter((n) => !known.has(n));
  if (!unknown.length) return;
  const examples = [...known].slice(0, 8).join(', ');
  throw new UserError(`${PASS}: unknown layer${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (layers: ${examples || 'none'}${known.size > 8 ? ', ...' : ''})`);
}

function reportNested(ctx: PassContext, report: PassReport): void {
  for (const scope of modelScopes(ctx.model).slice(1)) {
    scope.graph.node.forEach((n, i) => {
      if (isCandidateOp(n)) report.skipped.push({ name: reportName(scope, i), opType: n.op_type ?? '', reason: 'inside a subgraph (If/Loop/Scan bodies are not refitted)' });
    });
  }
}

/** Refittable layers of the main graph in topological order, matched with the teacher. */
export function selectLayers(ctx: PassContext, student: Scope, teacher: TeacherGraph, options: DistillOptions, report: PassReport): Candidate[] {
  const wanted = new Set(options.layers);
  const known = new Set<string>();
  const kept = new Map<string, Int32Array>();
  const out: Candidate[] = [];
  for (const i of student.index.topoOrder()) {
    const node = student.graph.node[i];
    if (!isCandidateOp(node)) continue;
    const name = student.index.names[i];
    known.add(name);
    const skip = (reason: string) => report.skipped.push({ name, opType: node.op_type ?? '', reason });
    const described = describeLayer(student, node, name);
    if (!described.layer) {
      skip(described.skip);
      continue;
    }
    // Matched even when excluded below: its kept channels are needed to trace the layers after it.
    const match = matchTeacher(student, described.layer, teacher, kept);
    if (!match.target) skip(match.skip);
    else if (ctx.isExcluded(node, name)) skip('excluded');
    else if (wanted.size && !wanted.has(name)) skip('not listed in layers=');
    else out.push({ layer: described.layer, target: match.target, node, input: described.layer.input });
  }
  checkNames(wanted, known);
  reportNested(ctx, report);
  return out;
}
