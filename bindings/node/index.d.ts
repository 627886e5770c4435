// Types of accounts-rs for Node: hand-written but for the methods of each class and the module
// functions (marked regions `make codegen` writes from core's operation table); native.d.ts is the
// addon surface napi generates, names.d.ts the unions generated from the core tables.

import type { ErrorCode, EventName } from './names'
export type { CallbackName, ErrorCode, EventName } from './names'

export interface EmailRecord { address: string; verified: boolean }
export interface User {
  id: string
  username?: string
  emails: EmailRecord[]
  deactivated: boolean
  /** ms since the Unix epoch */
  createdAt: number
  updatedAt: number
  [profileField: string]: unknown
}
export interface Tokens { accessToken: string; refreshToken: string }
export interface LoginResult { sessionId: string; tokens: Tokens; user: User }
export interface ImpersonationResult { authorized: boolean; tokens?: Tokens; user?: User }
export interface ConnectionInfo { ip?: string; userAgent?: string }
export interface Session {
  id: string
  userId: string
  valid: boolean
  ip?: string
  userAgent?: string
  impersonatorUserId?: string
  refreshCount: number
  createdAt: number
  updatedAt: number
}
export type Awaitable<T> = T | Promise<T>

/** `web`: cookie sessions, trusted origins and proxies (docs/configuration.md). */
export interface WebOptions {
  cookies?: boolean | {
    secure?: boolean
    sameSite?: 'lax' | 'strict' | 'none'
    domain?: string
    names?: { access?: string; refresh?: string; csrf?: string; oauthState?: string }
  }
  trustedOrigins?: string[]
  trustedProxies?: string[]
  proxyHeader?: 'x-forwarded-for' | 'forwarded'
  maxBodyBytes?: number
  siteOrigin?: string
}

/** One HTTP request for handleHttp: the path is under the mount (e.g. "/password/register"). */
export interface HttpRequest {
  method: string
  path: string
  /** [name, value] pairs, a Node headers object, or `req.rawHeaders`. */
  headers?: Array<[string, string]> | string[] | Record<string, string | string[] | undefined>
  body?: string | Uint8Array
  /** The connection's address (`req.socket.remoteAddress`). */
  peer?: string
  query?: string
}

/** handleHttp's answer: each Set-Cookie is its own header; the body is JSON text. */
export interface HttpResponse { status: number; headers: Array<[string, string]>; body: string }
/** One key of a ring: an HMAC secret, a PEM pair, or (verify only) a PEM public key or a public JWK. */
export interface TokenKey {
  kid: string
  algorithm: 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'EdDSA'
  secret?: string
  privateKey?: string
  publicKey?: string
  jwk?: Record<string, unknown>
}
export interface TokenKeys { current: string; keys: TokenKey[] }

export interface AccountsServerOptions {
  /** `sqlite:<path>`, `sqlite::memory:` or `postgres://user:password@host:port/db?sslmode=...` */
  db: string
  /** PostgreSQL connections per process (default 8). */
  dbPoolSize?: number
  /** An HMAC secret (32+ bytes), or accounts-js's PEM key pair for RS256/384/512, ES256/384, EdDSA. */
  tokenSecret?: string | { publicKey: string; privateKey: string }
  /** A key ring instead of tokenSecret (needs sealingSecret): `current` signs, every key verifies. */
  tokenKeys?: TokenKeys
  /** Encrypts two-factor secrets at rest (32+ bytes); without it they hang on tokenSecret. */
  sealingSecret?: string
  /** Earlier sealingSecrets: what they sealed still opens (resealAll moves it to the current one). */
  previousSealingSecrets?: string[]
  tokenConfigs?: {
    accessToken?: { expiresIn?: string | number; algorithm?: 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'EdDSA'; issuer?: string; audience?: string }
    /** jsonwebtoken's sign options as accounts-js configs write them; algorithm, issuer and audience must agree with accessToken's. */
    refreshToken?: { expiresIn?: string | number; algorithm?: 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'EdDSA'; issuer?: string; audience?: string }
  }
  ambiguousErrorMessages?: boolean
  useStatelessSession?: boolean
  siteUrl?: string
  emailTemplates?: {
    from?: string
    verifyEmail?: MailTemplate
    resetPassword?: MailTemplate
    enrollAccount?: MailTemplate
    passwordChanged?: MailTemplate
    magicLink?: MailTemplate
  }
  enableAutologin?: boolean
  refreshTokenReuseGraceSeconds?: number
  services?: {
    password?: {
      minPasswordLength?: number
      requireEmailVerification?: boolean
      twoFactor?: { appName?: string; window?: number; recoveryCodes?: number }
      hashing?: { memoryKib?: number; iterations?: number; parallelism?: number }
      maxConcurrentHashes?: number
      verifyEmailTokenExpiration?: string | number
      passwordResetTokenExpiration?: string | number
      passwordEnrollTokenExpiration?: string | number
      returnTokensAfterResetPassword?: boolean
      invalidateAllSessionsAfterPasswordReset?: boolean
      invalidateAllSessionsAfterPasswordChanged?: boolean
      notifyUserAfterPasswordChanged?: boolean
      sendVerificationEmailAfterSignup?: boolean
    }
    magicLink?: { loginTokenExpiration?: string | number }
    /** Login with other identity providers (docs/oauth.md). */
    oauth?: {
      providers?: Record<string, { type: 'host'; storeTokens?: boolean } | OidcProviderConfig>
      unverifiedEmailMatch?: 'refuse' | 'createAccount'
      /** How long an authorization may be finished (default "10m", at least 60 s). */
      flowExpiration?: string | number
    }
    /** Passkeys (docs/passkeys.md); absent, the service is off. */
    webauthn?: WebAuthnOptions
  }
  /** Failed-attempt limits (docs/security.md); `max: 0` turns one off. */
  attemptLimits?: {
    password?: LimitSet
    secondFactor?: LimitSet
    linkToken?: LimitSet
  }
  /** How long a call waits for a JS callback or listener to settle (default "30s"). */
  hostCallbackTimeout?: string | number
  /** The HTTP edge of handleHttp and accounts-rs/express (docs/web.md, docs/configuration.md). */
  web?: WebOptions
  createJwtPayload?: (data: Record<string, unknown>, user: User) => Awaitable<Record<string, unknown> | undefined>
  userObjectSanitizer?: (user: User) => Awaitable<User>
  impersonationAuthorize?: (user: User, target: User) => Awaitable<boolean>
  resumeSessionValidator?: (user: User, session: Session) => Awaitable<void>
  validateNewUser?: (user: Record<string, unknown>) => Awaitable<Record<string, unknown> | undefined>
  sendMail?: (mail: Mail) => Awaitable<void>
  /** Replace accounts-js's default rules; the library's identifier rules still apply after them. */
  validateUsername?: (username: string) => Awaitable<boolean>
  validateEmail?: (email: string) => Awaitable<boolean>
  validatePassword?: (password: string) => Awaitable<boolean>
  /** accounts-js `prepareMail(to, token, user, pathFragment, emailTemplate, from)`: returns the mail. */
  prepareMail?: (to: string, token: string, user: User, pathFragment: string, emailTemplate: Record<string, unknown>, from: string) => Awaitable<Record<string, unknown>>
  /** Who a host OAuth provider's login parameters belong to (docs/oauth.md); throw to refuse. */
  oauthAuthenticate?: (provider: string, params: Record<string, unknown>) => Awaitable<ProviderIdentity>
}

/** `{max: 0}` alone turns a limit off; a limit that is on needs its window. */
export interface Limit { max: number; window?: string | number }
export interface LimitSet { accountIp: Limit; account: Limit; ip: Limit }

/** `{{url}}` and `{{email}}` are replaced in every field. */
export type TemplateField = string | ((user: User, url: string) => string)
export interface MailTemplate { subject?: TemplateField; text?: TemplateField; html?: TemplateField }
export interface Mail {
  type: 'verifyEmail' | 'resetPassword' | 'enrollAccount' | 'passwordChanged' | 'magicLink'
  from: string
  to: string
  subject: string
  text: string
  html: string
}
export interface AuthSecret { ascii: string; hex: string; base32: string; otpauthUrl: string; otpauth_url: string }

export type LoginParams = Record<string, unknown>

export declare class PasswordService {
  readonly twoFactor: TwoFactor
  // BEGIN generated by accounts-codegen from core/src/operations.rs: PasswordService (make codegen)
  /** Creates a user (username and/or email, password, profile fields); the new id. */
  createUser(user: { username?: string; email?: string; password?: string; [field: string]: unknown }): Promise<string>
  /** Checks a user and password without starting a session. */
  authenticate(params: LoginParams): Promise<User>
  /** A user by email address (case-insensitive), or null. */
  findUserByEmail(email: string): Promise<User | null>
  /** A user by username, or null. */
  findUserByUsername(username: string): Promise<User | null>
  /** Sets a user's password (no old password needed). */
  setPassword(userId: string, password: string): Promise<void>
  /** Adds an email address to a user. */
  addEmail(userId: string, newEmail: string, verified?: boolean): Promise<void>
  /** Removes an email address from a user. */
  removeEmail(userId: string, email: string): Promise<void>
  /** Mails a verification link for an address. */
  sendVerificationEmail(address: string): Promise<void>
  /** Marks the address of a verification link verified. */
  verifyEmail(token: string): Promise<void>
  /** Mails a password reset link. */
  sendResetPasswordEmail(address: string): Promise<void>
  /** Mails an enrollment link (set a first password). */
  sendEnrollmentEmail(address: string): Promise<void>
  /** Sets a new password with a reset or enrollment link; a session when autologin is on (with two-factor on, only with a valid `code`). */
  resetPassword(token: string, newPassword: string, infos?: ConnectionInfo, code?: string): Promise<LoginResult | null>
  /** Changes a password given the old one. */
  changePassword(userId: string, oldPassword: string, newPassword: string): Promise<void>
  // END generated
}

export declare class TwoFactor {
  // BEGIN generated by accounts-codegen from core/src/operations.rs: TwoFactor (make codegen)
  /** A fresh TOTP secret (base32 and otpauth URL) to show the user. */
  getNewAuthSecret(): AuthSecret
  /** Turns two-factor on with a secret and a current code; the recovery codes (shown once). */
  set(userId: string, secret: string | { base32: string }, code: string): Promise<string[]>
  /** Turns two-factor off given a current code. */
  unset(userId: string, code: string): Promise<void>
  /** Replaces the recovery codes given a current code. */
  regenerateRecoveryCodes(userId: string, code: string): Promise<string[]>
  /** Whether two-factor is on for a user. */
  isSet(userId: string): Promise<boolean>
  // END generated
}

export declare class MagicLinkService {
  // BEGIN generated by accounts-codegen from core/src/operations.rs: MagicLinkService (make codegen)
  /** Mails a one-time login link. */
  requestMagicLinkEmail(email: string): Promise<void>
  // END generated
}

/** `getServices().webauthn`: passkeys (docs/passkeys.md). Sign in with `loginWithService('webauthn', { response })`, `response` being the assertion's `credential.toJSON()`. */
export declare class WebAuthnService {
  // BEGIN generated by accounts-codegen from core/src/operations.rs: WebAuthnService (make codegen)
  /** Starts adding a passkey to a user: the options for navigator.credentials.create (JSON form). */
  registrationOptions(userId: string): Promise<PublicKeyCredentialCreationOptionsJSON>
  /** Verifies the browser's answer to registrationOptions and stores the passkey. */
  register(userId: string, response: RegistrationResponseJSON, options?: { name?: string }): Promise<Passkey>
  /** Starts a passkey sign-in (no user: usernameless and conditional mediation): the options for navigator.credentials.get. */
  authenticationOptions(options?: { userId?: string; username?: string; email?: string }, infos?: ConnectionInfo): Promise<PublicKeyCredentialRequestOptionsJSON>
  /** A user's passkeys. */
  listPasskeys(userId: string): Promise<Passkey[]>
  /** Renames one of a user's passkeys. */
  renamePasskey(userId: string, passkeyId: string, name: string): Promise<Passkey>
  /** Removes one of a user's passkeys (not their last way in). */
  removePasskey(userId: string, passkeyId: string): Promise<void>
  // END generated
}

/** An OpenID Connect provider (docs/oauth.md). */
export interface OidcProviderConfig {
  type: 'oidc'
  /** https:// (http:// only on loopback); discovery at `<issuer>/.well-known/openid-configuration`. */
  issuer: string
  clientId: string
  clientSecret?: string
  redirectUri: string
  /** Default ['openid', 'email', 'profile']. */
  scopes?: string[]
  /** Keep the provider's access/refresh tokens, sealed, for providerTokens (default false). */
  storeTokens?: boolean
  /** Accepted ID-token algorithms, default ['RS256']. */
  algorithms?: ('RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'EdDSA')[]
  tokenEndpointAuthMethod?: 'clientSecretBasic' | 'clientSecretPost'
  /** Always read email and profile from the UserInfo endpoint (default: only when the ID token has no email). */
  userinfo?: boolean
}

/** `services.webauthn` (docs/passkeys.md, docs/configuration.md). */
export interface WebAuthnOptions {
  /** The registrable domain the passkeys belong to (`example.com`): no scheme, port or path. */
  rpId: string
  /** The name the browser shows for the site. */
  rpName: string
  /** The origins the page runs on: https://rpId or a subdomain of it (http only on localhost). */
  origins: string[]
  /** Default 'required': a sign-in with user verification is both factors (no two-factor code). */
  userVerification?: 'required' | 'preferred' | 'discouraged'
  attestation?: 'none'
  /** How long a ceremony may be finished (default 5 minutes). */
  timeout?: string | number
}

/** A user's passkey (never its key or counter). */
export interface Passkey {
  id: string
  name: string
  /** ms since the epoch */
  createdAt: number
  lastUsedAt: number | null
  /** Whether the credential may be synced to the user's other devices, and whether it is. */
  backupEligible: boolean
  backupState: boolean
  transports: string[]
  aaguid: string
}

/** The WebAuthn Level 3 JSON forms (what `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON` take, and `credential.toJSON()` gives). */
export type PublicKeyCredentialCreationOptionsJSON = Record<string, unknown> & { challenge: string; rp: { id: string; name: string }; user: { id: string; name: string; displayName: string } }
export type PublicKeyCredentialRequestOptionsJSON = Record<string, unknown> & { challenge: string; rpId: string; allowCredentials?: { id: string; type: 'public-key'; transports?: string[] }[] }
export type RegistrationResponseJSON = Record<string, unknown> & { id: string; rawId: string; type: 'public-key'; response: Record<string, unknown> }
export type AuthenticationResponseJSON = RegistrationResponseJSON

/** A provider identity linked to a user. */
export interface LinkedAccount {
  provider: string
  /** The user's id at the provider. */
  id: string
  userId: string
  email: string | null
  createdAt: number
}

/** What `oauthAuthenticate` answers about the user of a host provider's login parameters. */
export interface ProviderIdentity {
  id: string | number
  email?: string | null
  emailVerified?: boolean
  profile?: Record<string, unknown>
  /** Kept (sealed) only with the provider's `storeTokens`. */
  tokens?: { accessToken: string; refreshToken?: string; expiresAt?: number; scope?: string }
}

export declare class OAuthService {
  // BEGIN generated by accounts-codegen from core/src/operations.rs: OAuthService (make codegen)
  /** Starts an OpenID Connect login: the URL to redirect the browser to (the client's address bounds its pending flows). */
  authorizationUrl(provider: string, options?: { loginHint?: string; prompt?: string; purpose?: 'login' | 'link' }, infos?: ConnectionInfo): Promise<{ url: string; state: string }>
  /** Fetches every OpenID provider's discovery and keys; fails naming the first that fails. */
  checkProviders(): Promise<void>
  /** Links the provider identity the params prove to a user. */
  linkAccount(userId: string, provider: string, params: Record<string, unknown>): Promise<LinkedAccount>
  /** Removes a user's identity at a provider (not their last way in). */
  unlinkAccount(userId: string, provider: string): Promise<void>
  /** A user's provider identities. */
  listLinkedAccounts(userId: string): Promise<LinkedAccount[]>
  /** The provider's own tokens kept from the last login or link, or null. */
  providerTokens(userId: string, provider: string): Promise<ProviderTokens | null>
  // END generated
}

export interface ProviderTokens {
  accessToken: string
  refreshToken: string | null
  /** ms since the epoch */
  expiresAt: number | null
  scope: string | null
}

export declare class AccountsServer {
  constructor(options: AccountsServerOptions)
  readonly options: Readonly<Omit<AccountsServerOptions, 'createJwtPayload' | 'userObjectSanitizer' | 'impersonationAuthorize' | 'resumeSessionValidator' | 'validateNewUser' | 'sendMail'>>
  /** `oauth` is present when `services.oauth.providers` names a provider, `webauthn` when `services.webauthn` is configured. */
  getServices(): { password: PasswordService; magicLink: MagicLinkService; oauth?: OAuthService; webauthn?: WebAuthnService }
  getOptions(): Readonly<Record<string, unknown>>
  on(event: EventName, listener: (payload: Record<string, unknown>) => Awaitable<void>): () => boolean
  /** Same as resumeSession on the calling thread; throws CallbackError if a JS callback would have to run. */
  resumeSessionSync(accessToken: string): User
  // BEGIN generated by accounts-codegen from core/src/operations.rs: AccountsServer (make codegen)
  /** Authenticates with a service (password, magicLink, oauth, webauthn, or a custom one) and starts a session. */
  loginWithService(service: string, params: LoginParams, infos?: ConnectionInfo): Promise<LoginResult>
  /** Authenticates with a service without starting a session. */
  authenticateWithService(service: string, params: LoginParams, infos?: ConnectionInfo): Promise<boolean>
  /** Starts a session for a user the host has authenticated itself. */
  loginWithUser(user: User | string, infos?: ConnectionInfo): Promise<LoginResult>
  /** The user of a valid access token (runs resumeSessionValidator). */
  resumeSession(accessToken: string): Promise<User>
  /** Rotates the refresh token and signs a new access token. */
  refreshTokens(accessToken: string, refreshToken: string, infos?: ConnectionInfo): Promise<LoginResult>
  /** Ends the session of an access token. */
  logout(accessToken: string): Promise<void>
  /** Starts a session as another user when impersonationAuthorize allows it. */
  impersonate(accessToken: string, impersonated: { userId?: string; username?: string; email?: string }, infos?: ConnectionInfo): Promise<ImpersonationResult>
  /** A user by id, or null. */
  findUserById(userId: string): Promise<User | null>
  /** The session of an access token. */
  findSessionByAccessToken(accessToken: string): Promise<Session>
  /** Refuses the user's logins and ends their sessions. */
  deactivateUser(userId: string): Promise<void>
  /** Lets a deactivated user log in again. */
  activateUser(userId: string): Promise<void>
  /** Every session of a user, newest first. */
  listSessions(userId: string): Promise<Session[]>
  /** Ends one session; says whether it was still valid. */
  revokeSession(sessionId: string): Promise<boolean>
  /** Ends every valid session of a user but `except`; the count. */
  revokeAllSessions(userId: string, options?: { except?: string | string[] }): Promise<number>
  /** Imports users stored by accounts-js (mongo documents or typeorm rows). */
  importUsers(records: Record<string, unknown>[]): Promise<{ imported: number; skipped: number; failed: { index: number; code: string; message: string }[] }>
  /** Deletes expired link tokens and attempt records. */
  purgeExpired(): Promise<{ tokens: number; attempts: number }>
  /** Re-encrypts what older sealing secrets sealed with the current one; the count. */
  resealAll(): Promise<number>
  /** The JWKS document of the token signing key. */
  getJwks(): { keys: Record<string, unknown>[] }
  /** Replaces the JWT key ring without a restart. */
  setKeys(tokenKeys: TokenKeys): void
  /** Serves one request of the accounts-js REST API (a login route hashes; docs/web.md). */
  handleHttp(request: HttpRequest): Promise<HttpResponse>
  /** The user of a request to an app's own route (bearer, or cookie with the CSRF checks), or null. */
  httpUser(request: HttpRequest): Promise<{ user: User; accessToken: string } | null>
  // END generated
}

export declare class AccountsError extends Error {
  /** A table code, or the code string a host callback's error carried. */
  readonly code: ErrorCode | (string & {})
  readonly number: number
  readonly details?: unknown
}
export declare function isAccountsError(e: unknown): e is AccountsError
/**
 * Makes every AccountsError also `instanceof` the given `AccountsJsError` class of @accounts/server,
 * so accounts-js transports recognise our errors (done automatically when @accounts/server resolves
 * from this package, the app's entry point or the working directory).
 */
export declare function useAccountsJsError(AccountsJsError: new (...args: any[]) => Error): boolean
/** Whether AccountsError is linked to @accounts/server's AccountsJsError. */
export declare function accountsJsErrorLinked(): boolean
export declare const ErrorCodes: Readonly<{ [C in ErrorCode]: C }>
export interface VerifyOptions {
  jwks?: { keys: Record<string, unknown>[] }
  publicKey?: string
  secret?: string
  algorithm?: string
  issuer?: string
  audience?: string
}
// BEGIN generated by accounts-codegen from core/src/operations.rs: module functions (make codegen)
/** Verifies an access token without a server (another service holding the JWKS or key); its claims. */
export declare function verifyAccessToken(token: string, options: VerifyOptions): Record<string, unknown>
// END generated
export declare const version: string
