// accounts-rs/express: Express adapters over core's web edge (docs/web.md).
import type { AccountsServer } from './index'

type Middleware = (req: unknown, res: unknown, next: (err?: unknown) => void) => void

export interface AccountsRouterOptions {
  /** Handle only requests under this path (when not mounted with app.use(path, ...)). */
  path?: string
}

/**
 * The accounts-js REST API of `server` (rest-express 0.33's routes), in bearer or cookie mode as the
 * server's `web` options say: `app.use('/accounts', accountsRouter(server))`.
 */
export declare function accountsRouter(server: AccountsServer, options?: AccountsRouterOptions): Middleware

export interface CurrentUserOptions {
  /** Call next() with `req.user = null` instead of answering 401 (default false). */
  optional?: boolean
}

/**
 * A middleware for the app's own routes: sets `req.user` and `req.accessToken` from the bearer token
 * or, in cookie mode, the access cookie (CSRF-checked on methods other than GET/HEAD/OPTIONS), else
 * answers 401; a refused request gets core's status (403, 400).
 */
export declare function currentUser(
  server: AccountsServer,
  options?: CurrentUserOptions,
): (req: unknown, res: unknown, next: (err?: unknown) => void) => Promise<void>
