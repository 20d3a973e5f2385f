/**
 * What the app's routes accept, read from the routes themselves, for the errors that tell a caller
 * what to send instead: the methods a path takes (a `405` with `Allow`, RFC 9110 §15.5.6) and the
 * media types a route's body may have (a `415` naming them, RFC 9110 §15.5.16).
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Env } from 'hono';

/** Methods in the order they are listed in `Allow`. */
const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export interface RouteTable {
  /** The methods `path` is routed for (HEAD with GET, as hono answers it), none when no route has it. */
  allowedMethods(path: string): string[];
  /** The media types declared for the body of `method` on the route `pattern` (hono's `/v1/jobs/:id`). */
  bodyTypes(method: string, pattern: string): readonly string[];
}

/** A route pattern (`/v1/jobs/:id`) as a regular expression over a request path. */
function patternOf(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  // Exact: the router does not take `/v1/verify/` for `/v1/verify` (a 404 that names the right path).
  return new RegExp(`^${source}$`);
}

/**
 * The table of `app`'s routes, read when first asked (every route is registered by then) and kept.
 */
export function routeTable<E extends Env>(app: OpenAPIHono<E>): RouteTable {
  let routes: { method: string; pattern: RegExp }[] | null = null;
  let types: Map<string, readonly string[]> | null = null;
  return {
    allowedMethods(path) {
      routes ??= app.routes
        .filter((route) => route.method !== 'ALL')
        .map((route) => ({ method: route.method, pattern: patternOf(route.path) }));
      const methods = new Set(routes.filter((route) => route.pattern.test(path)).map((r) => r.method));
      if (methods.has('GET')) methods.add('HEAD');
      return [...methods].sort((a, b) => METHOD_ORDER.indexOf(a) - METHOD_ORDER.indexOf(b));
    },
    bodyTypes(method, pattern) {
      if (types === null) {
        types = new Map();
        for (const definition of app.openAPIRegistry.definitions) {
          if (definition.type !== 'route') continue;
          const { route } = definition;
          const content = route.request?.body?.content;
          if (content === undefined) continue;
          // OpenAPI's `{id}` is hono's `:id`.
          const path = route.path.replace(/\{([^}]+)\}/g, ':$1');
          types.set(`${route.method.toUpperCase()} ${path}`, Object.keys(content));
        }
      }
      return types.get(`${method.toUpperCase()} ${pattern}`) ?? [];
    },
  };
}
