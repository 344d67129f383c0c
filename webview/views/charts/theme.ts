/**
 * Chart colours from VS Code's theme variables (light, dark, high contrast alike), read when a chart
 * is drawn and again whenever the theme changes (VS Code swaps the body's class).
 */
export interface ChartTheme {
  foreground: string;
  muted: string;
  grid: string;
  bar: string;
  barHighlight: string;
  threshold: string;
  font: string;
  highContrast: boolean;
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  return style.getPropertyValue(name).trim() || fallback;
}

export function readTheme(): ChartTheme {
  const style = getComputedStyle(document.body);
  const foreground = cssVar(style, '--vscode-foreground', '#cccccc');
  const highContrast = document.body.classList.contains('vscode-high-contrast') || document.body.classList.contains('vscode-high-contrast-light');
  return {
    foreground,
    muted: cssVar(style, '--vscode-descriptionForeground', foreground),
    grid: cssVar(style, '--vscode-editorWidget-border', cssVar(style, '--vscode-panel-border', 'rgba(128,128,128,0.35)')),
    bar: cssVar(style, '--vscode-charts-blue', '#3794ff'),
    barHighlight: cssVar(style, '--vscode-charts-orange', '#d18616'),
    threshold: cssVar(style, '--vscode-charts-red', '#f14c4c'),
    font: cssVar(style, '--vscode-font-family', 'sans-serif'),
    highContrast,
  };
}

/** Calls `onChange` when VS Code switches theme (the body's class list changes). */
export function watchTheme(onChange: () => void): void {
  new MutationObserver(onChange).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}
