'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const { AccountsServer, AccountsError, isAccountsError, ErrorCodes } = require('..')
const native = require('../accounts.node')

const { SECRET, FAST, rejects, memoryServer: make } = require('../test-support/helpers')
const claims = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString())

async function alice(s) {
  const id = await s.getServices().password.createUser({ username: 'alice', email: 'Alice@Example.com', password: 'correct horse' })
  const login = await s.loginWithService('password', { user: { email: 'alice@example.com' }, password: 'correct horse' })
  return { id, login }
}


test('error codes mirror the core table', () => {
  for (const [code, number] of native.errorCodes()) {
    assert.equal(ErrorCodes[code], code)
    assert.ok(number > 0)
  }
  assert.equal(Object.keys(ErrorCodes).length, native.errorCodes().length)
})

test('construction and options', () => {
  assert.throws(() => new AccountsServer({ db: 'sqlite::memory:', tokenSecret: 'short' }), (e) => e.code === 'InvalidConfig')
  assert.throws(() => new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, typo: 1 }), (e) => e.code === 'InvalidConfig')
  assert.throws(() => new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, createJwtPayload: 5 }), (e) => e.code === 'InvalidConfig')
  assert.throws(() => new AccountsServer(null), (e) => e.code === 'InvalidConfig')
  // No option is dropped silently: a function where JSON goes, or an option we do not have, is refused by name.
  assert.throws(() => make({ tokenConfigs: { accessToken: { expiresIn: () => 5 } } }), (e) => e.code === 'InvalidConfig' && e.message.includes('tokenConfigs.accessToken.expiresIn'))
  assert.throws(() => make({ services: { ...FAST, password: { ...FAST.password, errors: { noSuchKey: 'Nope' } } } }), (e) => e.code === 'InvalidConfig' && /noSuchKey/.test(e.message))
  assert.equal(make().getOptions().tokenSecret, '[redacted]')
  const s = make()
  assert.equal(s.options.ambiguousErrorMessages, true)
  assert.equal(s.options.enableAutologin, false)
  assert.equal(s.options.tokenSecret, '[redacted]')
  assert.ok(s.getServices().password)
})

test('password service', async () => {
  const s = make()
  const p = s.getServices().password
  const id = await p.createUser({ username: 'bob', email: 'Bob@Example.com', password: '12345678', profile: { n: 1 } })
  assert.equal((await p.findUserByEmail('BOB@example.com')).id, id)
  assert.equal((await p.findUserByUsername('bob')).profile, undefined, 'without validateNewUser extra fields are dropped')
  const kept = make({ validateNewUser: (user) => ({ ...user, plan: 'pro' }) })
  const keptId = await kept.getServices().password.createUser({ username: 'carl', profile: { n: 1 }, isAdmin: true })
  const carl = await kept.findUserById(keptId)
  assert.deepEqual([carl.profile, carl.plan, carl.isAdmin], [{ n: 1 }, 'pro', true], 'validateNewUser decides what is stored')
  // Validators replace accounts-js's default rules (a letter, then letters and digits).
  await rejects(p.createUser({ username: 'with-dash' }), 'InvalidUsername')
  const custom = make({ validateUsername: (name) => name.startsWith('u-'), validatePassword: (pw) => pw.length >= 3 })
  await custom.getServices().password.createUser({ username: 'u-dash', password: 'abc' })
  await rejects(custom.getServices().password.createUser({ username: 'plain' }), 'InvalidUsername')
  await rejects(custom.getServices().password.createUser({ username: 'u-short', password: 'ab' }), 'InvalidPassword')
  assert.equal(await p.findUserByUsername('ghost'), null)
  await rejects(p.createUser({ password: '12345678' }), 'UsernameOrEmailRequired')
  await rejects(p.createUser({ email: 'nope' }), 'InvalidEmail')
  await rejects(p.createUser({ username: '' }), 'UsernameOrEmailRequired') // an empty string is a missing field (accounts-js)
  await rejects(p.createUser({ username: 'x', password: 'short' }), 'InvalidPassword')
  await rejects(p.createUser({ email: 'bob@example.com' }), 'EmailAlreadyExists')
  await rejects(p.createUser({ username: 'bob' }), 'UsernameAlreadyExists')
  await rejects(p.createUser('bob'), 'InvalidArgument')
  assert.equal((await p.authenticate({ user: 'bob', password: '12345678' })).id, id)
  await rejects(p.authenticate({ user: 'bob', password: 'wrong' }), 'InvalidCredentials')
  await rejects(p.authenticate({ user: 'bob' }), 'UnrecognizedOptionsForLogin')
  await rejects(p.authenticate({ user: 'bob', password: 1 }), 'MatchFailed')
  await p.setPassword(id, 'new-password')
  await rejects(p.setPassword(id, 'short'), 'InvalidPassword')
  await rejects(p.setPassword('ghost', 'long enough'), 'UserNotFound')
  await rejects(p.setPassword(null, 'long enough'), 'InvalidArgument')
})

test('session lifecycle and token errors', async () => {
  const s = make()
  const { id, login } = await alice(s)
  const { accessToken: at, refreshToken: rt } = login.tokens
  assert.deepEqual(claims(at).data, { userId: id, isImpersonated: false, sessionId: login.sessionId })
  assert.equal((await s.resumeSession(at)).id, id)
  assert.equal(s.resumeSessionSync(at).id, id)
  assert.throws(() => s.resumeSessionSync('bad'), (e) => e.code === 'TokenVerificationFailed')
  assert.equal((await s.findUserById(id)).username, 'alice')
  assert.equal(await s.findUserById('ghost'), null)
  assert.equal(await s.authenticateWithService('password', { user: 'alice', password: 'correct horse' }), true)
  assert.equal((await s.findSessionByAccessToken(at)).valid, true)
  const r = await s.refreshTokens(at, rt, { ip: '127.0.0.1', userAgent: 'node-test' })
  assert.notEqual(r.tokens.refreshToken, rt)
  const sessions = await s.listSessions(id)
  assert.equal(sessions[0].refreshCount, 1)
  assert.equal(sessions[0].userAgent, 'node-test')
  await rejects(s.resumeSession('garbage'), 'TokenVerificationFailed')
  await rejects(s.resumeSession(rt), 'TokenVerificationFailed')
  await rejects(s.resumeSession(''), 'InvalidToken')
  await rejects(s.resumeSession(undefined), 'InvalidToken') // a missing token, as accounts-js reports it
  await rejects(s.resumeSession('a'.repeat(2 << 20)), 'InvalidArgument')
  await rejects(s.refreshTokens(at, ''), 'InvalidTokens')
  await rejects(s.refreshTokens(at, rt, { ip: 5 }), 'InvalidArgument')
  await rejects(s.loginWithService('nope', {}), 'ServiceNotFound')
  await s.logout(r.tokens.accessToken)
  await rejects(s.resumeSession(r.tokens.accessToken), 'InvalidSession')
  await rejects(s.logout(r.tokens.accessToken), 'InvalidSession')
})

test('refresh reuse revokes the session and carries details', async () => {
  const s = make({ refreshTokenReuseGraceSeconds: 0 })
  const { login } = await alice(s)
  await s.refreshTokens(login.tokens.accessToken, login.tokens.refreshToken)
  await assert.rejects(s.refreshTokens(login.tokens.accessToken, login.tokens.refreshToken), (e) => {
    assert.equal(e.code, 'RefreshTokenReused')
    assert.deepEqual(e.details, { sessionId: login.sessionId })
    // Readable, but not own enumerable properties: apollo-server copies those into
    // `extensions.exception`, and accounts-js's errors carry only `code` there.
    assert.equal(e.name, 'AccountsError')
    assert.equal(typeof e.number, 'number')
    assert.deepEqual(Object.keys(e), ['code'])
    assert.deepEqual({ ...e }, { code: 'RefreshTokenReused' })
    return true
  })
  await rejects(s.resumeSession(login.tokens.accessToken), 'InvalidSession')
})

test('sessions, revocation and deactivation', async () => {
  const s = make()
  const { id, login: a } = await alice(s)
  const b = await s.loginWithUser(id)
  const c = await s.loginWithUser({ id }, { userAgent: 'x' })
  await rejects(s.loginWithUser('ghost'), 'UserNotFound')
  await rejects(s.loginWithUser({}), 'InvalidArgument')
  assert.equal(await s.revokeSession(b.sessionId), true)
  assert.equal(await s.revokeSession(b.sessionId), false)
  await rejects(s.revokeSession('nope'), 'SessionNotFound')
  assert.equal(await s.revokeAllSessions(id, { except: c.sessionId }), 1)
  await rejects(s.resumeSession(a.tokens.accessToken), 'InvalidSession')
  await s.deactivateUser(id)
  await rejects(s.resumeSession(c.tokens.accessToken), 'UserDeactivated')
  await s.activateUser(id)
  await s.resumeSession(c.tokens.accessToken)
  await rejects(s.deactivateUser('ghost'), 'UserNotFound')
  await rejects(s.activateUser('ghost'), 'UserNotFound')
})

test('callbacks (sync and async) and impersonation', async () => {
  const s = make({
    createJwtPayload: async (data, user) => ({ role: 'admin', sid: data.sessionId, data: 'ignored' }),
    userObjectSanitizer: (user) => ({ ...user, sanitized: true }),
    impersonationAuthorize: async (user, target) => user.username === 'alice' && target.username !== 'root',
    resumeSessionValidator: (user, session) => {
      if (session.userAgent === 'blocked') throw new AccountsError('blocked', 'Unauthorized', 29)
    },
    validateNewUser: async (user) => {
      if (user.username === 'mallory') throw new Error('no mallory')
      return { ...user, role: 'member' }
    },
  })
  const { id, login } = await alice(s)
  const c = claims(login.tokens.accessToken)
  assert.equal(c.role, 'admin')
  assert.equal(c.sid, login.sessionId)
  assert.equal(c.data.userId, id)
  assert.equal(login.user.sanitized, true)
  assert.equal(login.user.role, 'member')
  const bob = await s.getServices().password.createUser({ username: 'bob' })
  await s.getServices().password.createUser({ username: 'root' })
  const r = await s.impersonate(login.tokens.accessToken, { username: 'bob' })
  assert.equal(r.authorized, true)
  assert.equal(r.user.id, bob)
  assert.equal(claims(r.tokens.accessToken).data.impersonatorUserId, id)
  assert.equal((await s.resumeSession(r.tokens.accessToken)).id, bob)
  assert.deepEqual(await s.impersonate(login.tokens.accessToken, { username: 'root' }), { authorized: false })
  await rejects(s.impersonate(login.tokens.accessToken, { nobody: 1 }), 'InvalidArgument')
  const blocked = await s.loginWithUser(id, { userAgent: 'blocked' })
  await rejects(s.resumeSession(blocked.tokens.accessToken), 'Unauthorized')
  // The call rejects with the very error the callback threw (accounts-js behaviour).
  await assert.rejects(s.getServices().password.createUser({ username: 'mallory' }), (e) => e instanceof Error && !isAccountsError(e) && e.message === 'no mallory')
  // The sync twin refuses to run JS callbacks instead of deadlocking.
  assert.throws(() => s.resumeSessionSync(login.tokens.accessToken), (e) => e.code === 'CallbackError')
})

test('many operations calling back at once do not deadlock', async () => {
  const s = make({ createJwtPayload: async () => { await new Promise((r) => setTimeout(r, 1)); return { x: 1 } } })
  const id = await s.getServices().password.createUser({ username: 'many' })
  const results = await Promise.all(Array.from({ length: 64 }, () => s.loginWithUser(id)))
  assert.equal(new Set(results.map((r) => r.sessionId)).size, 64)
})

test('events: on returns an unsubscribe function; a throwing listener aborts', async () => {
  const s = make()
  const seen = []
  const off = s.on('LoginSuccess', (p) => seen.push(p))
  s.on('LoginError', (p) => seen.push(p.error.code))
  const { id, login } = await alice(s)
  assert.equal(seen[0].user.id, id)
  assert.equal(seen[0].service, 'password') // accounts-js's hooksInfo
  assert.equal(seen[0].params.password, undefined, 'never the password')
  assert.equal(login.user.id, id)
  await rejects(s.loginWithService('password', { user: 'alice', password: 'wrong' }), 'InvalidCredentials')
  assert.equal(seen.at(-1), 'InvalidCredentials')
  assert.equal(off(), true)
  assert.equal(off(), false)
  s.on('ValidateLogin', async () => { throw new AccountsError('vetoed', 'Unauthorized', 29) })
  await rejects(s.loginWithService('password', { user: 'alice', password: 'correct horse' }), 'Unauthorized')
  assert.throws(() => s.on('LoginSuccess', 5), (e) => e.code === 'InvalidArgument')
})

test('the event loop keeps ticking while logins hash on the pool (loose functional check)', async () => {
  const s = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET })
  const id = await s.getServices().password.createUser({ username: 'loop', password: 'password-123' })
  assert.ok(id)
  let ticks = 0
  const timer = setInterval(() => ticks++, 1)
  const t0 = Date.now()
  await Promise.all(Array.from({ length: 16 }, () => s.loginWithService('password', { user: 'loop', password: 'password-123' })))
  clearInterval(timer)
  const elapsed = Date.now() - t0
  // With the event loop blocked, the 1 ms timer could not fire during the logins at all.
  assert.ok(ticks >= Math.floor(elapsed / 20), `ticks=${ticks} elapsed=${elapsed}`)
})

test('resumeSession does not queue behind a login burst (hashing has its own pool)', async () => {
  // OWASP parameters: 64 logins keep the hashing threads busy for about a second.
  const s = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET })
  await s.getServices().password.createUser({ username: 'burst', password: 'password-123' })
  const { tokens } = await s.loginWithService('password', { user: 'burst', password: 'password-123' })
  let loginsDone = 0
  const burst = Array.from({ length: 64 }, () =>
    s.loginWithService('password', { user: 'burst', password: 'password-123' }).then(() => loginsDone++),
  )
  const user = await s.resumeSession(tokens.accessToken)
  const doneWhenResumed = loginsDone
  await Promise.all(burst)
  assert.equal(user.username, 'burst')
  // Ordering, not timing: behind the burst, the resume would have waited for most of the 64 logins.
  assert.ok(doneWhenResumed < 32, `resume waited for ${doneWhenResumed} logins`)
})

test('a key pair tokenSecret as in accounts-js (RS256)', async () => {
  const fs = require('node:fs')
  const path = require('node:path')
  const keys = path.join(__dirname, '..', '..', '..', 'core', 'tests', 'keys')
  const tokenSecret = { publicKey: fs.readFileSync(path.join(keys, 'rsa.pub.pem'), 'utf8'), privateKey: fs.readFileSync(path.join(keys, 'rsa.pem'), 'utf8') }
  // As accounts-js deployments on a key pair write it: jsonwebtoken's sign options for both tokens.
  const tokenConfigs = { accessToken: { algorithm: 'RS256', expiresIn: '15m' }, refreshToken: { algorithm: 'RS256', expiresIn: '30d' } }
  const s = make({ tokenSecret, tokenConfigs })
  assert.throws(() => make({ tokenSecret, tokenConfigs: { ...tokenConfigs, refreshToken: { algorithm: 'RS512' } } }), (e) => e.code === 'InvalidConfig')
  const { login } = await alice(s)
  assert.equal(JSON.parse(Buffer.from(login.tokens.refreshToken.split('.')[0], 'base64url')).alg, 'RS256')
  assert.equal(JSON.parse(Buffer.from(login.tokens.accessToken.split('.')[0], 'base64url')).alg, 'RS256')
  assert.equal((await s.resumeSession(login.tokens.accessToken)).username, 'alice')
  // Another service verifies with the public key alone (node:crypto).
  const [header, payload, signature] = login.tokens.accessToken.split('.')
  const crypto = require('node:crypto')
  assert.ok(crypto.verify('sha256', Buffer.from(`${header}.${payload}`), tokenSecret.publicKey, Buffer.from(signature, 'base64url')))
  assert.equal(s.options.tokenSecret.privateKey, '[redacted]')
  assert.throws(() => make({ tokenSecret }), (e) => e.code === 'InvalidConfig') // a key pair with HS256
  assert.equal(make({ sealingSecret: 'sealing-secret-0123456789abcdef-0123456789' }).options.sealingSecret, '[redacted]')
  assert.throws(() => make({ sealingSecret: 'short' }), (e) => e.code === 'InvalidConfig')
})

test('getJwks and verifyAccessToken: other services verify without the database', async () => {
  const fs = require('node:fs')
  const path = require('node:path')
  const crypto = require('node:crypto')
  const { verifyAccessToken } = require('..')
  const keys = path.join(__dirname, '..', '..', '..', 'core', 'tests', 'keys')
  const tokenSecret = { publicKey: fs.readFileSync(path.join(keys, 'ec.pub.pem'), 'utf8'), privateKey: fs.readFileSync(path.join(keys, 'ec.pem'), 'utf8') }
  const s = make({ tokenSecret, tokenConfigs: { accessToken: { algorithm: 'ES256' } } })
  const { id, login } = await alice(s)
  const jwks = s.getJwks()
  assert.equal(jwks.keys.length, 1)
  assert.equal(jwks.keys[0].alg, 'ES256')
  assert.equal(jwks.keys[0].d, undefined, 'no private component')
  assert.equal(verifyAccessToken(login.tokens.accessToken, { jwks }).data.userId, id)
  assert.equal(verifyAccessToken(login.tokens.accessToken, { publicKey: tokenSecret.publicKey, algorithm: 'ES256' }).sub, id)
  // Interop: node:crypto verifies the signature from the published JWK alone.
  const [header, payload, signature] = login.tokens.accessToken.split('.')
  assert.equal(JSON.parse(Buffer.from(header, 'base64url')).kid, jwks.keys[0].kid)
  const publicKey = crypto.createPublicKey({ key: jwks.keys[0], format: 'jwk' })
  assert.ok(crypto.verify('sha256', Buffer.from(`${header}.${payload}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url')))
  assert.throws(() => verifyAccessToken(login.tokens.refreshToken, { jwks }), (e) => e.code === 'TokenVerificationFailed')
  assert.throws(() => verifyAccessToken(login.tokens.accessToken, { jwks, audience: 'api' }), (e) => e.code === 'TokenVerificationFailed')
  assert.throws(() => verifyAccessToken(undefined, { jwks }), (e) => e.code === 'InvalidToken')
  assert.throws(() => verifyAccessToken(login.tokens.accessToken, {}), (e) => e.code === 'InvalidArgument')
  // HMAC: nothing published; the shared secret verifies.
  const hs = make()
  assert.deepEqual(hs.getJwks(), { keys: [] })
  const hsLogin = (await alice(hs)).login
  assert.ok(verifyAccessToken(hsLogin.tokens.accessToken, { secret: SECRET, algorithm: 'HS256' }).data)
})

test('one version everywhere: the package, the addon and the workspace', () => {
  const fs = require('node:fs')
  const path = require('node:path')
  const cargo = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'Cargo.toml'), 'utf8')
  const workspace = /\[workspace\.package\]\nversion = "([^"]+)"/.exec(cargo)[1]
  assert.equal(require('..').version, workspace)
  assert.equal(native.version(), workspace)
  assert.equal(require('../package.json').version, workspace)
})
