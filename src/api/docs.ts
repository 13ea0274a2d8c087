import path from 'node:path';
import { Router, type Response } from 'express';

/**
 * /docs: Swagger UI over /openapi.json, served from the swagger-ui-dist package (no CDN): every
 * operation with its examples, a search box, "Authorize" with a bearer token and "Try it out"
 * against this API. The page's scripts are files, never inline, so its own Content-Security-Policy
 * stays strict: scripts and calls to this origin only; inline styles are allowed because Swagger
 * UI's components set them.
 */
const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css',
  'swagger-ui-bundle.js': 'text/javascript',
  'favicon-32x32.png': 'image/png',
};

export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Car-loan operations API</title>
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head><body>
<noscript><p>This page needs JavaScript. The document itself is <a href="/openapi.json">/openapi.json</a>.</p></noscript>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>`;

// Tokens stay in the page's memory (no persistAuthorization): closing the tab forgets them.
const INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  filter: true,
  docExpansion: 'list',
  defaultModelsExpandDepth: 0,
  displayRequestDuration: true,
  showExtensions: true,
  tryItOutEnabled: false,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout'
});
`;

function docsHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', DOCS_CSP);
}

export function docsRouter(): Router {
  const router = Router({ strict: true });
  router.get('/docs', (_req, res) => {
    docsHeaders(res);
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').send(PAGE);
  });
  router.get('/docs/init.js', (_req, res) => {
    docsHeaders(res);
    res.setHeader('Cache-Control', 'no-cache');
    res.type('text/javascript').send(INIT);
  });
  for (const [file, type] of Object.entries(ASSETS)) {
    router.get(`/docs/${file}`, (_req, res, next) => {
      docsHeaders(res);
      res.type(type);
      res.sendFile(path.join(SWAGGER_UI_DIR, file), { maxAge: '1d' }, (err) => err && next(err));
    });
  }
  return router;
}
