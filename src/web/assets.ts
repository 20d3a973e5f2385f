/**
 * The web page's files (HTML, CSS, vanilla JS: no framework, no bundler, nothing built at run time),
 * read once when the app is created. They sit next to this module in `static/` (copied to
 * `dist/web/static/` by the build).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface WebAsset {
  readonly body: string;
  readonly type: string;
  readonly etag: string;
}

const FILES = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/explain.js': ['explain.js', 'text/javascript; charset=utf-8'],
  '/file-drop.js': ['file-drop.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
  '/favicon.svg': ['favicon.svg', 'image/svg+xml'],
} as const;

/** The page's files by URL path. */
export function loadWebAssets(): Map<string, WebAsset> {
  const assets = new Map<string, WebAsset>();
  for (const [path, [file, type]] of Object.entries(FILES)) {
    const body = readFileSync(new URL(`./static/${file}`, import.meta.url), 'utf8');
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
    assets.set(path, { body, type, etag });
  }
  return assets;
}
