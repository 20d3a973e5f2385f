/**
 * `GET /docs`: the API reference as one plain HTML page rendered from the OpenAPI document (no
 * Swagger UI bundle, nothing fetched from a CDN: the server may run where there is no internet).
 */
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

interface Operation {
  summary?: string;
  description?: string;
  requestBody?: { content?: Record<string, unknown> };
  responses?: Record<string, { description?: string }>;
  parameters?: { name: string; in: string }[];
}

type Document = { paths?: Record<string, Record<string, Operation> | undefined> };

/** Backticks in descriptions become <code>; everything else is escaped by `html`. */
function prose(text: string): HtmlEscapedString | Promise<HtmlEscapedString> {
  const parts = text.split('`');
  return html`${parts.map((part, index) => (index % 2 === 1 ? html`<code>${part}</code>` : html`${part}`))}`;
}

export function renderDocsPage(document: unknown): HtmlEscapedString | Promise<HtmlEscapedString> {
  const paths = (document as Document).paths ?? {};
  const operations = Object.entries(paths).flatMap(([path, methods]) =>
    Object.entries(methods ?? {}).map(([method, operation]) => ({ path, method, operation })),
  );
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>rcpt API</title>
        <link rel="stylesheet" href="/style.css" />
      </head>
      <body class="docs">
        <main>
          <h1>rcpt HTTP API</h1>
          <p>
            The machine-readable description is <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Send
            <code>Authorization: Bearer &lt;key&gt;</code> when the server has API keys. Errors are JSON:
            <code>{"error": "code", "message": "…"}</code>. <a href="/">Back to the verifier</a>.
          </p>
          ${operations.map(
            ({ path, method, operation }) =>
              html`<section class="endpoint">
                <h2><span class="method">${method.toUpperCase()}</span> <code>${path}</code></h2>
                ${operation.summary === undefined ? '' : html`<p><strong>${operation.summary}</strong></p>`}
                ${operation.description === undefined ? '' : html`<p>${prose(operation.description)}</p>`}
                ${
                  operation.requestBody?.content === undefined
                    ? ''
                    : html`<p>
                        Body:
                        ${Object.keys(operation.requestBody.content).map((type) => html`<code>${type}</code> `)}
                      </p>`
                }
                <ul>
                  ${Object.entries(operation.responses ?? {}).map(
                    ([status, response]) =>
                      html`<li><code>${status}</code> ${response.description ?? ''}</li>`,
                  )}
                </ul>
              </section>`,
          )}
        </main>
      </body>
    </html>`;
}
