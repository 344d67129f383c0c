/** Report shapes the webview's state modules use (type-only, from the shared protocol). */
export type { InspectReport, ProfileReport, PrunePreview, WeightHistogram, SensitivityResult } from '../../src/shared/webviewProtocol';
export type { LayerInfo } from '../../src/core/reports';
