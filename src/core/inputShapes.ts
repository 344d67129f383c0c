/**
 * Default shapes for inputs with symbolic dimensions: a symbolic leading (batch) dimension becomes 1;
 * any other symbolic dimension stays unknown (0), and `complete` says so. Shared by the extension (which
 * then asks the user) and the server (which then refuses with a clear message).
 */
import type { InspectReport } from './reports';

function isFixed(d: number | string | null): d is number {
  return typeof d === 'number' && d > 0;
}

export function defaultShapes(report: Pick<InspectReport, 'inputs'>): { shapes: Record<string, number[]>; complete: boolean } {
  const shapes: Record<string, number[]> = {};
  let complete = true;
  for (const input of report.inputs) {
    const dims = input.shape ?? [];
    if (dims.every(isFixed)) continue;
    shapes[input.name] = dims.map((d, i) => {
      if (isFixed(d)) return d;
      if (i === 0) return 1;
      complete = false;
      return 0;
    });
  }
  return { shapes, complete };
}
