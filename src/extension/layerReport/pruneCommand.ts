/**
 * `onnxLean.pruneModel` as the Layer Report's Apply button calls it: `{ uri, layers, sparsity }` in,
 * an `ApplyPruneResult` out (the command is src/extension/pruneModelCommand.ts).
 */
import * as vscode from 'vscode';
import { isResultOf } from '../../shared/webviewGuards';
import type { ApplyPruneResult } from '../../shared/webviewProtocol';
import { PanelError } from './errors';

export const PRUNE_COMMAND = 'onnxLean.pruneModel';

export interface PruneArgs {
  uri: vscode.Uri;
  layers: string[];
  sparsity: number;
}

/** Runs the command for the panel and checks what it returns. */
export async function applyPrune(args: PruneArgs): Promise<ApplyPruneResult> {
  const result: unknown = await vscode.commands.executeCommand(PRUNE_COMMAND, args);
  if (isResultOf('applyPrune', result)) return result;
  throw new PanelError('failed', `${PRUNE_COMMAND} returned no result: whether the model was pruned is unknown`);
}
