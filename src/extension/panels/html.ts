// The HTML page of a panel: a strict Content-Security-Policy with a per-load crypto nonce, the panel's
// bundle and stylesheet from dist/webview, and nothing else. No vscode import (the harness uses it too).
import { randomBytes } from 'node:crypto';

export type PanelKind = 'curves' | 'calibration' | 'masks';

export function makeNonce(): string {
  return randomBytes(18).toString('base64');
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * cspSource: the webview's resource origin (webview.cspSource). scriptUri / styleUri: webview URIs of
 * dist/webview/<panel>.js and .css. Styles come only from the stylesheet and constructable
 * stylesheets (lit); element styles are set through the CSSOM, so no 'unsafe-inline' is needed.
 */
export function panelHtml(opts: { panel: PanelKind; title: string; cspSource: string; scriptUri: string; styleUri: string; nonce?: string }): string {
  const nonce = opts.nonce ?? makeNonce();
  const csp = [`default-src 'none'`, `img-src ${opts.cspSource} data: blob:`, `style-src ${opts.cspSource}`, `font-src ${opts.cspSource}`, `script-src 'nonce-${nonce}'`].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttr(opts.styleUri)}">
<title>${escapeAttr(opts.title)}</title>
</head>
<body data-panel="${opts.panel}">
<main id="app" aria-label="${escapeAttr(opts.title)}"></main>
<script nonce="${escapeAttr(nonce)}" src="${escapeAttr(opts.scriptUri)}"></script>
</body>
</html>
`;
}
