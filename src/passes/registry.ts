/** Every pass by the name the CLI, the server and presets use. */
import { UserError } from '../core/errors';
import { cleanupPass } from './cleanup';
import { distillPass } from './distill';
import { fp16Pass } from './fp16';
import { opsetUpgradePass } from './opset';
import { ortOptimizePass } from './ortOptimize';
import { pruneChannelsPass, pruneMagnitudePass, pruneNmPass } from './prune';
import type { PassDefinition } from './pass';
import { int4WeightsPass } from './quant/int4';
import { int8DynamicPass } from './quant/dynamic';
import { int8StaticPass } from './quant/static';

// Each definition is typed by its own options; the registry erases them (options are parsed by the
// definition itself, so they never cross passes).
const ALL = [cleanupPass, opsetUpgradePass, int8DynamicPass, int8StaticPass, int4WeightsPass, fp16Pass, ortOptimizePass, pruneMagnitudePass, pruneNmPass, pruneChannelsPass, distillPass] as unknown as PassDefinition[];

export const PASSES: ReadonlyMap<string, PassDefinition> = new Map(ALL.map((p) => [p.name, p]));

export function passByName(name: string): PassDefinition {
  const pass = PASSES.get(name);
  if (!pass) throw new UserError(`unknown pass '${name}' (passes: ${[...PASSES.keys()].join(', ')})`);
  return pass;
}
