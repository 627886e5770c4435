// accounts-rs/express: cookie sessions in front of @accounts/rest-express (docs/web.md).
import type { AccountsServer } from './index'

export interface CookieSessionOptions {
  /** Where rest-express is mounted (default '/accounts'). */
  path?: string
  secure?: boolean
  sameSite?: 'lax' | 'strict' | 'none'
  domain?: string
  accessName?: string
  refreshName?: string
  csrfName?: string
  /** The header that must echo the CSRF cookie (default 'x-csrf-token'). */
  csrfHeader?: string
  /** Origins besides the request's own host allowed to POST. */
  trustedOrigins?: string[]
}

/** An Express middleware: put it after express.json() and before accountsExpress(server). */
export declare function cookieSessions(
  server: AccountsServer,
  options?: CookieSessionOptions,
): (req: unknown, res: unknown, next: (err?: unknown) => void) => void

export interface CurrentUserOptions extends CookieSessionOptions {
  /** Call next() with `req.user = null` instead of answering 401 (default false). */
  optional?: boolean
}

/**
 * An Express middleware for the app's own routes: resumes the session of the bearer token or the
 * access cookie (CSRF-checked on requests other than GET/HEAD), sets `req.user` and `req.accessToken`,
 * else answers 401.
 */
export declare function currentUser(
  server: AccountsServer,
  options?: CurrentUserOptions,
): (req: unknown, res: unknown, next: (err?: unknown) => void) => Promise<void>
