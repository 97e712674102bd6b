/**
 * @slotrelay/middleware-redirect — rewrites `-MOVED` / `-ASK` so clients follow redirects to proxies.
 * Enable it with `"@slotrelay/middleware-redirect"` in the config's `middleware` list.
 */
import { ContainerModule } from 'inversify';
import { Middleware } from '@slotrelay/core';
import { RedirectMiddleware } from './redirect-middleware.js';

export { RedirectMiddleware } from './redirect-middleware.js';
export {
  parseRedirect,
  rewriteRedirectFrame,
  type RedirectTarget,
  type ResolveEndpoint,
  type RewriteResult,
} from './redirect.js';

/** Binds `RedirectMiddleware` under the `Middleware` token of a listener's container. */
export const redirectModule = new ContainerModule(({ bind }) => {
  bind(Middleware).to(RedirectMiddleware).inSingletonScope();
});

export default redirectModule;
