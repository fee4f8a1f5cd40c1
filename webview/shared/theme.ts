// Colours from VS Code's theme variables (--vscode-*), re-read when the theme changes (VS Code swaps
// the body's vscode-light / vscode-dark / vscode-high-contrast class and the variables together).

export interface ThemeColors {
  foreground: string;
  muted: string;
  background: string;
  grid: string;
  /** One colour per run, in order. */
  runs: string[];
  red: string;
  green: string;
  blue: string;
  orange: string;
  purple: string;
  yellow: string;
  highContrast: boolean;
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v === '' ? fallback : v;
}

export function themeColors(): ThemeColors {
  const s = getComputedStyle(document.documentElement);
  const dark = !document.body.classList.contains('vscode-light');
  const fg = cssVar(s, '--vscode-editor-foreground', cssVar(s, '--vscode-foreground', dark ? '#cccccc' : '#333333'));
  const c = {
    red: cssVar(s, '--vscode-charts-red', '#f14c4c'),
    green: cssVar(s, '--vscode-charts-green', '#89d185'),
    blue: cssVar(s, '--vscode-charts-blue', '#3794ff'),
    orange: cssVar(s, '--vscode-charts-orange', '#d18616'),
    purple: cssVar(s, '--vscode-charts-purple', '#b180d7'),
    yellow: cssVar(s, '--vscode-charts-yellow', '#cca700'),
  };
  return {
    ...c,
    foreground: fg,
    muted: cssVar(s, '--vscode-descriptionForeground', fg),
    background: cssVar(s, '--vscode-editor-background', dark ? '#1e1e1e' : '#ffffff'),
    grid: cssVar(s, '--vscode-charts-lines', dark ? 'rgba(128,128,128,0.35)' : 'rgba(0,0,0,0.15)'),
    runs: [c.blue, c.orange, c.green, c.purple, c.red, c.yellow],
    highContrast: document.body.classList.contains('vscode-high-contrast') || document.body.classList.contains('vscode-high-contrast-light'),
  };
}

let probe: CanvasRenderingContext2D | null = null;

/** Parses any CSS colour into [r, g, b, a] (0-255, a 0-1) through a canvas. */
export function parseColor(color: string): [number, number, number, number] {
  probe ??= document.createElement('canvas').getContext('2d');
  if (!probe) return [128, 128, 128, 1];
  probe.fillStyle = '#000000';
  probe.fillStyle = color;
  const v = String(probe.fillStyle);
  if (v.startsWith('#')) {
    return [parseInt(v.slice(1, 3), 16), parseInt(v.slice(3, 5), 16), parseInt(v.slice(5, 7), 16), 1];
  }
  const m = /rgba?\(([^)]+)\)/.exec(v);
  if (!m) return [128, 128, 128, 1];
  const parts = m[1].split(',').map((x) => parseFloat(x));
  return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
}

export function withAlpha(color: string, alpha: number): string {
  const [r, g, b] = parseColor(color);
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

/** Calls `onChange` when VS Code switches theme. */
export function watchTheme(onChange: () => void): void {
  const obs = new MutationObserver(() => onChange());
  obs.observe(document.body, { attributes: true, attributeFilter: ['class'] });
}
