/** Parsers for CLI option values; a bad value is a usage error naming the option (exit code 2). */
import { InvalidArgumentError } from 'commander';

/** "--shape x=1,3,224,224" (repeatable) -> { x: [1, 3, 224, 224] } */
export function parseShape(value: string, previous: Record<string, number[]> = {}): Record<string, number[]> {
  const eq = value.lastIndexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected name=d0,d1,... (got "${value}")`);
  const name = value.slice(0, eq);
  const dims = value
    .slice(eq + 1)
    .split(',')
    .map((d) => d.trim());
  if (dims.some((d) => !/^\d+$/.test(d))) throw new InvalidArgumentError(`dimensions of ${name} must be non-negative integers (got "${value.slice(eq + 1)}")`);
  return { ...previous, [name]: dims.map(Number) };
}

export function intParser(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected an integer (got "${value}")`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`must be between ${min} and ${max} (got ${n})`);
    return n;
  };
}

export function choiceParser<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')} (got "${value}")`);
    return value as T;
  };
}
