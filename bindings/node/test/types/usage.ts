// Compiled with `tsc --noEmit -p test/types` by `make test`: the published types (index.d.ts and the
// generated names.d.ts) must accept the documented usage and refuse the misuse marked below.
import {
  AccountsServer,
  AccountsError,
  ErrorCodes,
  isAccountsError,
  verifyAccessToken,
  type ErrorCode,
  type EventName,
  type CallbackName,
  type LoginResult,
  type User,
  type HttpResponse,
  type Passkey,
} from '../..'
import { accountsRouter, currentUser } from '../../express'

async function usage(): Promise<void> {
  const server = new AccountsServer({
    db: 'sqlite::memory:',
    tokenSecret: 'a-secret-of-at-least-32-bytes-0123456789',
    sendMail: async (mail) => {
      void mail.to
    },
  })
  const password = server.getServices().password
  const id: string = await password.createUser({ username: 'alice', email: 'alice@example.com', password: 'correct horse' })
  const login: LoginResult = await server.loginWithService('password', { user: { id }, password: 'correct horse' }, { ip: '127.0.0.1' })
  const user: User = await server.resumeSession(login.tokens.accessToken)
  await server.loginWithUser(user)
  await server.loginWithUser(id)
  const secret = password.twoFactor.getNewAuthSecret()
  const shown: string = `${secret.ascii} ${secret.hex} ${secret.base32} ${secret.otpauth_url}`
  void shown
  await password.twoFactor.set(id, secret, '123456').catch(() => [])
  await password.twoFactor.set(id, secret.base32, '123456').catch(() => [])
  const off = server.on('LoginSuccess', (payload) => {
    void payload
  })
  off()
  try {
    await server.refreshTokens(login.tokens.accessToken, login.tokens.refreshToken)
  } catch (e) {
    if (isAccountsError(e)) {
      const code: ErrorCode | string = e.code
      const isReuse: boolean = e.code === ErrorCodes.RefreshTokenReused
      void [code, isReuse, e.number, e.details]
    }
  }
  void verifyAccessToken(login.tokens.accessToken, { secret: 'a-secret-of-at-least-32-bytes-0123456789', algorithm: 'HS256' })
  const events: EventName[] = ['LoginSuccess', 'RefreshTokenReused', 'TooManyAttempts']
  const callbacks: CallbackName[] = ['sendMail', 'validateNewUser']
  void [events, callbacks, AccountsError]
  const middleware = accountsRouter(server, { path: '/accounts' })
  void middleware
  // @ts-expect-error: path is a string
  accountsRouter(server, { path: 1 })
  const guard: Promise<void> = currentUser(server, { optional: true })({}, {}, () => {})
  void guard
  const web = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: 'x', web: { cookies: { sameSite: 'strict' }, trustedProxies: ['10.0.0.0/8'] } })
  // @ts-expect-error: sameSite is lax, strict or none
  void new AccountsServer({ db: 'sqlite::memory:', tokenSecret: 'x', web: { cookies: { sameSite: 'sometimes' } } })
  const answer: Promise<HttpResponse> = web.handleHttp({ method: 'GET', path: '/user', headers: [['cookie', 'a=b']], peer: '127.0.0.1' })
  const who: Promise<{ user: User; accessToken: string } | null> = web.httpUser({ method: 'GET', path: '/me', headers: { authorization: 'Bearer x' } })
  void [answer, who]
  // @ts-expect-error optional is a boolean
  currentUser(server, { optional: 'yes' })

  // @ts-expect-error: not an event
  server.on('LoginSucess', () => undefined)
  // @ts-expect-error: ErrorCodes only has the table's codes
  void ErrorCodes.NoSuchCode
  // @ts-expect-error: createUser takes an object
  await password.createUser('alice')
}

void usage

async function oauthUsage(): Promise<void> {
  const server = new AccountsServer({
    db: 'sqlite::memory:',
    tokenSecret: 'a-secret-of-at-least-32-bytes-0123456789',
    services: { oauth: { providers: { github: { type: 'host' } }, unverifiedEmailMatch: 'refuse' } },
    oauthAuthenticate: async (provider, params) => ({ id: 42, email: String(params.email), emailVerified: provider === 'github' }),
  })
  const oauth = server.getServices().oauth
  if (oauth) {
    const linked = await oauth.linkAccount('user-id', 'github', { code: 'abc' })
    const ids: string[] = (await oauth.listLinkedAccounts(linked.userId)).map((a) => a.id)
    void ids
    await oauth.unlinkAccount(linked.userId, linked.provider)
    const checked: void = await oauth.checkProviders()
    void checked
  }
  // @ts-expect-error a provider's type is 'host'
  new AccountsServer({ db: 'sqlite::memory:', tokenSecret: 'x', services: { oauth: { providers: { github: { type: 'saml' } } } } })
}
void oauthUsage

async function webauthnUsage(): Promise<void> {
  const server = new AccountsServer({
    db: 'sqlite::memory:',
    tokenSecret: 'a-secret-of-at-least-32-bytes-0123456789',
    services: { webauthn: { rpId: 'example.com', rpName: 'Example', origins: ['https://example.com'], userVerification: 'required', timeout: '5m' } },
  })
  const webauthn = server.getServices().webauthn
  if (webauthn) {
    const creation = await webauthn.registrationOptions('user-id')
    const challenge: string = creation.challenge
    const passkey: Passkey = await webauthn.register('user-id', { id: 'x', rawId: 'x', type: 'public-key', response: {} }, { name: 'Laptop' })
    const lastUsed: number | null = passkey.lastUsedAt
    const request = await webauthn.authenticationOptions({ username: 'ada' }, { ip: '127.0.0.1' })
    const allowed: string[] = (request.allowCredentials || []).map((c) => c.id)
    const login: LoginResult = await server.loginWithService('webauthn', { response: { id: 'x' } })
    const names: string[] = (await webauthn.listPasskeys(login.user.id)).map((p) => p.name)
    await webauthn.renamePasskey(login.user.id, passkey.id, 'Phone')
    const removed: void = await webauthn.removePasskey(login.user.id, passkey.id)
    void [challenge, lastUsed, allowed, names, removed]
    // @ts-expect-error: the options name one user by userId, username or email
    await webauthn.authenticationOptions({ user: 'ada' })
  }
  // @ts-expect-error: userVerification is required, preferred or discouraged
  new AccountsServer({ db: 'sqlite::memory:', tokenSecret: 'x', services: { webauthn: { rpId: 'a', rpName: 'a', origins: [], userVerification: 'always' } } })
}
void webauthnUsage
