/** --exclude patterns: node display names or op types, with * wildcards. */
import type { NodeProto } from '../onnx/types';

function toRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

export function excludeMatcher(patterns: readonly string[]): (node: NodeProto, displayName: string) => boolean {
  if (patterns.length === 0) return () => false;
  const regexps = patterns.map(toRegExp);
  return (node, displayName) => regexps.some((r) => r.test(displayName) || r.test(node.op_type ?? ''));
}
