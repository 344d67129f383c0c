/**
 * The Layer Report custom editor for `*.onnx` (viewType `onnxLean.layerReport`): read-only, one
 * document per model file, any number of panels on it. The provider never reads the model itself:
 * the webview asks, and the engine (language server) answers.
 */
import * as vscode from 'vscode';
import type { Engine } from '../engine';
import { LayerReportDocument } from './document';
import { LayerReportPanel } from './panel';

export const LAYER_REPORT_VIEW_TYPE = 'onnxLean.layerReport';

export class LayerReportProvider implements vscode.CustomReadonlyEditorProvider<LayerReportDocument> {
  constructor(
    private readonly engine: Engine,
    private readonly extensionUri: vscode.Uri,
  ) {}

  openCustomDocument(uri: vscode.Uri): LayerReportDocument {
    return new LayerReportDocument(uri);
  }

  resolveCustomEditor(document: LayerReportDocument, panel: vscode.WebviewPanel): void {
    // The panel disposes itself with the webview panel.
    new LayerReportPanel(panel, document, this.engine, this.extensionUri);
  }
}

export function registerLayerReportProvider(engine: Engine, extensionUri: vscode.Uri): vscode.Disposable {
  // No retainContextWhenHidden: the webview keeps its state with getState/setState and says `ready` again.
  return vscode.window.registerCustomEditorProvider(LAYER_REPORT_VIEW_TYPE, new LayerReportProvider(engine, extensionUri), {
    supportsMultipleEditorsPerDocument: true,
  });
}
