/**
 * `prune-channels`: structured pruning that physically removes channels, the only kind of pruning
 * that makes onnxruntime faster on CPU. The dependency analysis (groups.ts) finds coupled channel
 * groups; each prunable group loses its lowest-scoring `ratio` of units (channels, or whole attention
 * heads), at least one unit staying; every member tensor is sliced (apply.ts). With calibration
 * statistics the ranking is activation-aware (score=activation) and each consumer's bias absorbs the
 * removed channels' mean contribution (compensate.ts).
 */
import { OptionReader } from '../options';
import { emptyReport, type PassContext, type PassDefinition, type PassReport, type RawOptions } from '../pass';
import { pruneChannelGroups } from './apply';
import { modelCost, type ModelCost } from './cost';
import { channelGroups, type ChannelAnalysis, type ChannelGroup } from './groups';
import { checkLayerNames, parseLayerValues } from './layerOptions';
import { groupScores, lowestUnits, ValueCache, type ScoreMethod } from './score';

const PASS = 'prune-channels';
const DEFAULT_RATIO = 0.3;

export interface PruneChannelsOptions {
  /** Fraction of each group's units to remove; undefined: only groups named in `layers`. */
  ratio?: number;
  /** Group (or any of its layers) name -> ratio, overriding `ratio`. */
  layers: Map<string, number>;
  score: ScoreMethod;
  /** Kept units are rounded up to a multiple of this (8 suits SIMD kernels). */
  round: number;
}

function parseOptions(raw: RawOptions): PruneChannelsOptions {
  const r = new OptionReader(PASS, raw);
  const layers = parseLayerValues(PASS, 'layers', r.list('layers'), { max: 1 });
  const ratio = raw.ratio !== undefined || layers.size === 0 ? r.number('ratio', DEFAULT_RATIO, { min: 0, max: 1, maxExclusive: true }) : undefined;
  const options = { ratio, layers, score: r.choice<ScoreMethod>('score', ['l2', 'l1', 'activation'], 'l2'), round: r.number('round', 1, { min: 1, integer: true }) };
  r.done();
  return options;
}

/** The ratio for a group: named by its own name first, then by any layer in it, else the default. */
function ratioFor(group: ChannelGroup, options: PruneChannelsOptions): number | undefined {
  const named = options.layers.get(group.name) ?? group.nodes.map((n) => options.layers.get(n)).find((v) => v !== undefined);
  return named ?? options.ratio;
}

/** Units to remove: round(ratio·units), then the kept count rounded up to a multiple of `round`; one stays. */
export function unitsToRemove(units: number, ratio: number, round: number): number {
  const kept = Math.min(units, Math.ceil((units - Math.round(ratio * units)) / round) * round);
  return Math.max(0, Math.min(units - kept, units - 1));
}

function skipReason(ctx: PassContext, analysis: ChannelAnalysis, group: ChannelGroup, ratio: number | undefined): string | undefined {
  if (group.reasons.length) return group.reasons.slice(0, 3).join('; ') + (group.reasons.length > 3 ? `; and ${group.reasons.length - 3} more` : '');
  const a = analysis.analyzer;
  const excluded = analysis.states[group.id].nodeIndices.find((i) => ctx.isExcluded(a.nodes[i], a.main.index.names[i]));
  if (excluded !== undefined) return `excluded (${a.main.index.names[excluded]})`;
  if (ratio === undefined) return 'not listed in layers=';
  return undefined;
}

function describe(group: ChannelGroup, removed: number): string {
  const perUnit = Math.max(...group.members.filter((m) => m.role === 'producer').map((m) => m.perUnit), 1);
  const unit = perUnit > 1 ? `blocks of ${perUnit} channels (heads)` : 'channels';
  const layers = [...new Set(group.members.filter((m) => m.role !== 'param').map((m) => m.node))];
  const shown = layers.slice(0, 6).join(', ') + (layers.length > 6 ? ` and ${layers.length - 6} more` : '');
  return `removed ${removed} of ${group.units} ${unit} from ${shown}`;
}

interface Choice {
  removals: Map<number, number[]>;
  fallbacks: number;
}

function choose(ctx: PassContext, analysis: ChannelAnalysis, options: PruneChannelsOptions, report: PassReport): Choice {
  const removals = new Map<number, number[]>();
  const cache = new ValueCache();
  let fallbacks = 0;
  for (const group of analysis.groups) {
    const ratio = ratioFor(group, options);
    const reason = skipReason(ctx, analysis, group, ratio);
    const k = reason === undefined ? unitsToRemove(group.units, ratio as number, options.round) : 0;
    if (reason !== undefined || k === 0) {
      report.skipped.push({ name: group.name, opType: group.opType, reason: reason ?? `ratio ${ratio} removes none of its ${group.units} channels` });
      continue;
    }
    const scored = groupScores(analysis, group, options.score, ctx.calibration, cache);
    if (options.score === 'activation' && !scored.activationAware) fallbacks++;
    removals.set(group.id, lowestUnits(scored.scores, k));
    report.changed.push({ name: group.name, opType: group.opType, action: describe(group, k) });
  }
  return { removals, fallbacks };
}

function recordCost(report: PassReport, before: ModelCost, after: ModelCost): void {
  Object.assign(report.stats, { paramsBefore: before.params, paramsAfter: after.params, paramRatio: before.params ? after.params / before.params : 1 });
  if (before.macs !== undefined && after.macs !== undefined) Object.assign(report.stats, { macsBefore: before.macs, macsAfter: after.macs, macRatio: before.macs ? after.macs / before.macs : 1 });
}

function warn(ctx: PassContext, report: PassReport, analysis: ChannelAnalysis, choice: Choice, options: PruneChannelsOptions): void {
  if (!analysis.groups.length) report.warnings.push('the model has no channels that structured pruning can remove (no Conv/Gemm/MatMul with constant weights)');
  else if (!choice.removals.size) report.warnings.push('no channel group was pruned: see the skipped list for the reasons');
  else if (!ctx.calibration) report.warnings.push('pruned without calibration data: channels were ranked by weight norms and their average contribution was not compensated; with calibration (score=activation) far less accuracy is lost');
  if (choice.fallbacks) report.warnings.push(`score=activation needs calibration statistics (featureNorms); ${choice.fallbacks} group(s) were scored by l2 weight norms instead`);
  if (options.round > 1) report.warnings.push(`kept channel counts rounded up to multiples of ${options.round}`);
}

function run(ctx: PassContext, options: PruneChannelsOptions): PassReport {
  const report = emptyReport(PASS, { ratio: options.ratio, layers: Object.fromEntries(options.layers), score: options.score, round: options.round });
  if (!ctx.model.graph) {
    report.warnings.push('the model has no graph: nothing to prune');
    return report;
  }
  const analysis = channelGroups(ctx.model);
  const known = new Set(analysis.groups.flatMap((g) => [g.name, ...g.nodes]));
  checkLayerNames(PASS, options.layers.keys(), known, 'layer');
  const before = modelCost(ctx.model);
  const choice = choose(ctx, analysis, options, report);
  const outcome = pruneChannelGroups(analysis, choice.removals, ctx.calibration);
  const prunable = analysis.groups.filter((g) => !g.reasons.length).length;
  const { groupsPruned, unitsRemoved, tensorsSliced, shapesRewritten, biasesCompensated } = outcome;
  Object.assign(report.stats, { groupsFound: analysis.groups.length, groupsPrunable: prunable, groupsPruned, groupsSkipped: report.skipped.length, unitsRemoved, tensorsSliced, shapesRewritten, biasesCompensated });
  recordCost(report, before, modelCost(ctx.model));
  warn(ctx, report, analysis, choice, options);
  return report;
}

export const pruneChannelsPass: PassDefinition<PruneChannelsOptions> = {
  name: PASS,
  description: 'Structured pruning: remove the least important channels (and attention heads) of coupled channel groups; fewer parameters and MACs, faster in onnxruntime',
  parseOptions,
  run,
};
