/** Entry point of the Layer Report webview (bundled by esbuild into dist/webview/main.js). */
import './components.js';
import { App } from './app.js';
import { connectHost } from './vscodeApi.js';

const root = document.getElementById('app');
if (root) new App(root, connectHost()).start();
