/**
 * The `opset-upgrade` pass: raises the model's default-domain opset (option `to`, default 13, the
 * first with per-channel QuantizeLinear/DequantizeLinear) so that later passes can use newer ops.
 * Every op whose signature or meaning changed on the way is rewritten to compute exactly what it did;
 * an op that cannot be is an error naming it, never a silently different model. --exclude does not
 * apply: a model must be upgraded whole.
 */
import { OptionReader } from '../options';
import { emptyReport, type PassContext, type PassDefinition, type PassReport, type RawOptions } from '../pass';
import { upgradeOpset } from './upgrade';

export { upgradeOpset, type UpgradeResult } from './upgrade';

export interface OpsetUpgradeOptions {
  to: number;
}

function parseOptions(raw: RawOptions): OpsetUpgradeOptions {
  const r = new OptionReader('opset-upgrade', raw);
  const options = { to: r.number('to', 13, { min: 11, max: 21, integer: true }) };
  r.done();
  return options;
}

function run(ctx: PassContext, options: OpsetUpgradeOptions): PassReport {
  const report = emptyReport('opset-upgrade', { ...options });
  const result = upgradeOpset(ctx.model, options.to);
  report.changed.push(...result.changed);
  report.skipped.push(...result.skipped);
  report.warnings.push(...result.warnings);
  Object.assign(report.stats, result.stats);
  return report;
}

export const opsetUpgradePass: PassDefinition<OpsetUpgradeOptions> = {
  name: 'opset-upgrade',
  description: 'Upgrade the default-domain opset (to=11..21, default 13), rewriting every op whose signature changed',
  parseOptions,
  run,
};
