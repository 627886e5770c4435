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
