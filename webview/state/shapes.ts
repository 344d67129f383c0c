/**
 * Concrete shapes for inputs with symbolic dimensions, typed by the user in the panel: needed to
 * profile the model and to count MACs. A suggestion fills the batch (first) dimension with 1 and
 * leaves other symbolic dimensions as "?" for the user to choose.
 */
import type { InspectReport } from './types';

export type Dims = InspectReport['inputs'][number]['shape'];

export interface SymbolicInput {
  name: string;
  shape: NonNullable<Dims>;
}

const MAX_DIM = 1 << 24;

/** Inputs whose declared shape has a dimension that is not a number. */
export function symbolicInputs(report: InspectReport): SymbolicInput[] {
  const out: SymbolicInput[] = [];
  for (const { name, shape } of report.inputs) if (shape && shape.some((d) => typeof d !== 'number')) out.push({ name, shape });
  return out;
}

export function suggestShape(shape: NonNullable<Dims>): string {
  return shape.map((d, i) => (typeof d === 'number' ? String(d) : i === 0 ? '1' : '?')).join(', ');
}

/** The dims typed for an input, or why they cannot be used. */
export function parseShape(text: string, rank: number): number[] | string {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length !== rank) return `needs ${rank} dimensions, got ${parts.length}`;
  const dims = parts.map(Number);
  const bad = dims.findIndex((d) => !Number.isInteger(d) || d < 1 || d > MAX_DIM);
  return bad < 0 ? dims : `dimension ${bad + 1} ("${parts[bad]}") must be a positive integer`;
}

export interface ShapeResolution {
  /** Shapes for every symbolic input, when all of them parse. */
  shapes?: Record<string, number[]>;
  /** One line per input that does not parse yet. */
  problems: string[];
}

/** Shapes for all symbolic inputs from the typed texts (suggestions where nothing was typed). */
export function resolveShapes(report: InspectReport, texts: Readonly<Record<string, string>>): ShapeResolution {
  const inputs = symbolicInputs(report);
  const shapes: Record<string, number[]> = {};
  const problems: string[] = [];
  for (const input of inputs) {
    const parsed = parseShape(texts[input.name] ?? suggestShape(input.shape), input.shape.length);
    if (typeof parsed === 'string') problems.push(`${input.name}: ${parsed}`);
    else shapes[input.name] = parsed;
  }
  return problems.length === 0 && inputs.length > 0 ? { shapes, problems } : { problems };
}

/** Whether the report was inspected with exactly these shapes. */
export function sameShapes(report: InspectReport, shapes: Record<string, number[]>): boolean {
  return Object.entries(shapes).every(([name, dims]) => report.resolvedShapes[name]?.join(',') === dims.join(','));
}
