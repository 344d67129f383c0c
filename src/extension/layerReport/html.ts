/**
 * The Layer Report's HTML shell. It holds no model data at all (names, shapes and figures arrive by
 * postMessage after the `ready` handshake and are put in the page with textContent), and a strict
 * CSP: nothing by default (no images, fonts, frames or connections), scripts only with this page's
 * nonce (the built bundle), styles only from the extension's files or with the nonce.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/** The folders the webview may load from: the built bundle and the stylesheets. */
export function webviewRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')];
}

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return { enableScripts: true, enableCommandUris: false, localResourceRoots: webviewRoots(extensionUri) };
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
  ].join('; ');
}

export function layerReportHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  const nonce = randomBytes(16).toString('base64');
  const asset = (...segments: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...segments)).toString();
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(webview.cspSource, nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" nonce="${nonce}" href="${asset('media', 'layerReport.css')}">
<title>Layer Report</title>
</head>
<body>
<main id="app" aria-busy="true"><p class="empty">Loading the Layer Report…</p></main>
<script nonce="${nonce}" src="${asset('dist', 'webview', 'main.js')}"></script>
</body>
</html>`;
}
