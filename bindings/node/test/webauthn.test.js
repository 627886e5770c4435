'use strict'
// Passkeys (docs/passkeys.md) through the Node binding: registration and usernameless sign-in with a
// software authenticator (test-support/webauthn.js) for ES256 and EdDSA, list/rename/remove, the
// refusals by error code, and the REST routes through handleHttp in bearer and cookie mode (the
// Express adapter: test/compat/webauthn-express.test.js). Every check of the ceremonies is core's
// (core/tests); here the conversion both ways.
const test = require('node:test')
const assert = require('node:assert/strict')
const { AccountsServer } = require('..')
const { authenticator: totp } = require('otplib')

const { SECRET, FAST, rejects } = require('../test-support/helpers')
const { SoftAuthenticator, tamper, b64u, fromB64u } = require('../test-support/webauthn')

const ORIGIN = 'https://app.example'
const WEBAUTHN = { rpId: 'app.example', rpName: 'Example', origins: [ORIGIN] }

function setup(extra = {}) {
  const server = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, services: { ...FAST, webauthn: WEBAUTHN }, ...extra })
  return { server, webauthn: server.getServices().webauthn, password: server.getServices().password }
}

async function register(webauthn, userId, device, name = 'Laptop') {
  return webauthn.register(userId, device.create(await webauthn.registrationOptions(userId)), { name })
}

async function signIn(server, device, over = {}) {
  const request = await server.getServices().webauthn.authenticationOptions()
  return server.loginWithService('webauthn', { response: device.get(request, over) })
}

function events(server, names) {
  const seen = []
  for (const name of names) server.on(name, (payload) => void seen.push([name, payload]))
  return seen
}

for (const alg of ['ES256', 'EdDSA']) {
  test(`${alg}: registration, then a usernameless sign-in`, async () => {
    const { server, webauthn, password } = setup()
    const seen = events(server, ['PasskeyRegistered', 'LoginSuccess'])
    const id = await password.createUser({ username: 'ada', email: 'ada@example.com', password: 'correct horse' })
    const creation = await webauthn.registrationOptions(id)
    assert.deepEqual(creation.rp, { id: 'app.example', name: 'Example' })
    assert.equal(creation.authenticatorSelection.residentKey, 'required')
    const algs = creation.pubKeyCredParams.map((p) => p.alg)
    assert.ok(algs.includes(-7) && algs.includes(-8), `${algs}`)
    const handle = fromB64u(creation.user.id).toString()
    assert.ok(handle !== id && handle !== 'ada@example.com')

    const device = new SoftAuthenticator({ origin: ORIGIN, alg })
    const passkey = await webauthn.register(id, device.create(creation), { name: 'Laptop' })
    assert.equal(passkey.name, 'Laptop')
    assert.equal(passkey.lastUsedAt, null)
    assert.equal(passkey.aaguid.replace(/-/g, ''), device.aaguid.toString('hex'))
    assert.deepEqual([passkey.backupEligible, passkey.backupState], [false, false])
    assert.deepEqual([...passkey.transports].sort(), ['hybrid', 'internal'])
    assert.equal(typeof passkey.createdAt, 'number')
    assert.deepEqual(await webauthn.listPasskeys(id), [passkey])
    const again = await webauthn.registrationOptions(id)
    assert.deepEqual(again.excludeCredentials.map((c) => c.id), [b64u(device.credentials[0].id)])

    const request = await webauthn.authenticationOptions()
    assert.ok(!request.allowCredentials || request.allowCredentials.length === 0)
    const login = await server.loginWithService('webauthn', { response: device.get(request) })
    assert.equal(login.user.id, id)
    assert.equal((await server.resumeSession(login.tokens.accessToken)).id, id)
    assert.notEqual((await webauthn.listPasskeys(id))[0].lastUsedAt, null)
    assert.deepEqual(seen.map(([name]) => name), ['PasskeyRegistered', 'LoginSuccess'])
    assert.deepEqual([seen[0][1].userId, seen[0][1].passkey.id], [id, passkey.id])
    assert.deepEqual([seen[1][1].service, seen[1][1].user.id], ['webauthn', id])
    assert.equal(await server.authenticateWithService('webauthn', { response: device.get(await webauthn.authenticationOptions()) }), true)
  })
}

test('options naming a user list their credentials; in ambiguous mode (the default) nobody is revealed', async () => {
  const { server, webauthn, password } = setup({ ambiguousErrorMessages: false })
  const id = await password.createUser({ username: 'ada', email: 'ada@example.com', password: 'correct horse' })
  const device = new SoftAuthenticator({ origin: ORIGIN })
  await register(webauthn, id, device)
  for (const who of [{ userId: id }, { username: 'ada' }, { email: 'ada@example.com' }]) {
    const request = await webauthn.authenticationOptions(who)
    assert.deepEqual(request.allowCredentials.map((c) => c.id), [b64u(device.credentials[0].id)])
    assert.equal((await server.loginWithService('webauthn', { response: device.get(request) })).user.id, id)
  }
  await rejects(webauthn.authenticationOptions({ username: 'nobody' }), 'UserNotFound')
  // A ceremony bound to one user is not finished with another user's passkey.
  const other = await password.createUser({ username: 'bob', password: 'correct horse' })
  const bobs = new SoftAuthenticator({ origin: ORIGIN })
  await register(webauthn, other, bobs)
  const forAda = await webauthn.authenticationOptions({ userId: id })
  const refused = await rejects(server.loginWithService('webauthn', { response: bobs.get(forAda, { credential: bobs.credentials[0] }) }), 'WebAuthnVerificationFailed')
  assert.equal(refused.details.reason, 'userHandle')

  const ambiguous = setup()
  const ada = await ambiguous.password.createUser({ username: 'ada', password: 'correct horse' })
  await register(ambiguous.webauthn, ada, new SoftAuthenticator({ origin: ORIGIN }))
  const known = await ambiguous.webauthn.authenticationOptions({ username: 'ada' })
  const unknown = await ambiguous.webauthn.authenticationOptions({ username: 'nobody' })
  assert.deepEqual(Object.keys(known).sort(), Object.keys(unknown).sort())
  assert.deepEqual([known.allowCredentials, unknown.allowCredentials], [unknown.allowCredentials, known.allowCredentials])
})

test('rename, remove, and never the last way in', async () => {
  const { server, webauthn, password } = setup()
  const seen = events(server, ['PasskeyRenamed', 'PasskeyRemoved'])
  const id = await password.createUser({ username: 'grace' }) // a passkey-only account
  const phone = new SoftAuthenticator({ origin: ORIGIN })
  const laptop = new SoftAuthenticator({ origin: ORIGIN, alg: 'EdDSA' })
  const first = await register(webauthn, id, phone, 'Phone')
  assert.equal((await webauthn.renamePasskey(id, first.id, 'Old phone')).name, 'Old phone')
  assert.equal((await webauthn.listPasskeys(id))[0].name, 'Old phone')
  await rejects(webauthn.removePasskey(id, first.id), 'LastLoginMethod')
  const second = await register(webauthn, id, laptop, 'Laptop')
  await webauthn.removePasskey(id, first.id)
  assert.deepEqual((await webauthn.listPasskeys(id)).map((p) => p.id), [second.id])
  assert.deepEqual(seen.map(([name]) => name), ['PasskeyRenamed', 'PasskeyRemoved'])
  const other = await password.createUser({ username: 'other', password: 'correct horse' })
  await rejects(webauthn.removePasskey(other, second.id), 'PasskeyNotFound')
  await rejects(webauthn.renamePasskey(id, first.id, 'x'), 'PasskeyNotFound')
  const gone = await rejects(signIn(server, phone), 'WebAuthnVerificationFailed')
  assert.equal(gone.details.reason, 'unknownCredential')
  assert.equal((await signIn(server, laptop)).user.id, id)
})

test('refusals by code: origin, replay, tampering, user verification, counter regression, ceremony', async () => {
  const { server, webauthn, password } = setup()
  const regressions = events(server, ['PasskeyCounterRegression'])
  const id = await password.createUser({ username: 'ada', password: 'correct horse' })
  const device = new SoftAuthenticator({ origin: ORIGIN })

  const elsewhere = new SoftAuthenticator({ origin: 'https://evil.example' })
  const origin = await rejects(webauthn.register(id, elsewhere.create(await webauthn.registrationOptions(id))), 'WebAuthnVerificationFailed')
  assert.equal(origin.details.reason, 'origin')
  await register(webauthn, id, device)

  const request = await webauthn.authenticationOptions()
  await rejects(server.loginWithService('webauthn', { response: device.get(request, { origin: 'https://evil.example' }) }), 'WebAuthnVerificationFailed')
  const fresh = await webauthn.authenticationOptions()
  const assertion = device.get(fresh)
  await server.loginWithService('webauthn', { response: assertion })
  await rejects(server.loginWithService('webauthn', { response: assertion }), 'InvalidWebAuthnChallenge')
  await rejects(server.loginWithService('webauthn', { response: tamper(device.get(await webauthn.authenticationOptions()), 'signature') }), 'WebAuthnVerificationFailed')
  await rejects(signIn(server, device, { uv: false }), 'WebAuthnVerificationFailed')

  await signIn(server, device)
  const stored = device.credentials[0].signCount
  await rejects(signIn(server, device, { signCount: stored - 2 }), 'PasskeyCounterRegression')
  const [passkey] = await webauthn.listPasskeys(id)
  assert.deepEqual(regressions.map(([, p]) => [p.userId, p.passkeyId]), [[id, passkey.id]])

  const creation = await webauthn.registrationOptions(id)
  await rejects(signIn(server, device, { challenge: creation.challenge }), 'InvalidWebAuthnChallenge')
  await rejects(server.loginWithService('webauthn', { response: { id: 'x' } }), 'WebAuthnVerificationFailed')
  await rejects(server.loginWithService('webauthn', {}), 'UnrecognizedOptionsForLogin')
})

test('failed assertions count toward the second-factor limit of the client address', async () => {
  const limits = { secondFactor: { ip: { max: 3, window: '15m' } } }
  const { server, webauthn, password } = setup({ attemptLimits: limits })
  const id = await password.createUser({ username: 'ada', password: 'correct horse' })
  const device = new SoftAuthenticator({ origin: ORIGIN })
  await register(webauthn, id, device)
  const from = { ip: '203.0.113.7' }
  for (let i = 0; i < 3; i++) {
    const forged = tamper(device.get(await webauthn.authenticationOptions({}, from)), 'signature')
    await rejects(server.loginWithService('webauthn', { response: forged }, from), 'WebAuthnVerificationFailed')
  }
  await rejects(server.loginWithService('webauthn', { response: device.get(await webauthn.authenticationOptions({}, from)) }, from), 'TooManyAttempts')
  // Another client is not held up by them (nor is the account).
  const elsewhere = { ip: '198.51.100.9' }
  const login = await server.loginWithService('webauthn', { response: device.get(await webauthn.authenticationOptions({}, elsewhere)) }, elsewhere)
  assert.equal(login.user.id, id)
})

test('a passkey with user verification needs no two-factor code', async () => {
  const { server, webauthn, password } = setup()
  const id = await password.createUser({ username: 'ada', password: 'correct horse' })
  const secret = password.twoFactor.getNewAuthSecret()
  await password.twoFactor.set(id, secret.base32, totp.generate(secret.base32))
  await rejects(server.loginWithService('password', { user: { username: 'ada' }, password: 'correct horse' }), 'TwoFactorCodeRequired')
  const device = new SoftAuthenticator({ origin: ORIGIN })
  await register(webauthn, id, device)
  assert.equal((await signIn(server, device)).user.id, id)
})

test('the service exists only when configured; origins must belong to rpId', () => {
  const server = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, services: FAST })
  assert.equal(server.getServices().webauthn, undefined)
  assert.throws(() => setup({ services: { ...FAST, webauthn: { ...WEBAUTHN, origins: ['https://evil.example'] } } }), (e) => e.code === 'InvalidConfig')
  assert.throws(() => setup({ services: { ...FAST, webauthn: { ...WEBAUTHN, origins: ['http://app.example'] } } }), (e) => e.code === 'InvalidConfig')
})

// ---- the REST routes through handleHttp ----

const json = (method, path, body, headers = {}) => ({
  method,
  path,
  headers: { 'content-type': 'application/json', ...headers },
  body: body === undefined ? undefined : JSON.stringify(body),
})
const parse = (r) => ({ status: r.status, body: JSON.parse(r.body) })

test('REST routes in bearer mode', async () => {
  const { server, password } = setup()
  const id = await password.createUser({ username: 'ada', password: 'correct horse' })
  const http = async (...args) => parse(await server.handleHttp(json(...args)))
  assert.equal((await http('POST', '/webauthn/registrationOptions', {})).status, 401)
  const { tokens } = await server.loginWithService('password', { user: { username: 'ada' }, password: 'correct horse' })
  const bearer = { authorization: `Bearer ${tokens.accessToken}` }
  const creation = await http('POST', '/webauthn/registrationOptions', {}, bearer)
  assert.equal(creation.status, 200)
  const device = new SoftAuthenticator({ origin: ORIGIN })
  const added = await http('POST', '/webauthn/register', { response: device.create(creation.body), name: 'Laptop' }, bearer)
  assert.deepEqual([added.status, added.body.name], [200, 'Laptop'])
  assert.deepEqual((await http('GET', '/webauthn/passkeys', undefined, bearer)).body.map((p) => p.id), [added.body.id])
  const renamed = await http('POST', '/webauthn/passkeys/rename', { id: added.body.id, name: 'Work' }, bearer)
  assert.deepEqual([renamed.status, renamed.body.name], [200, 'Work'])

  const request = await http('POST', '/webauthn/authenticationOptions', {})
  assert.equal(request.status, 200)
  const login = await http('POST', '/webauthn/authenticate', { response: device.get(request.body) })
  assert.equal(login.status, 200)
  assert.equal((await server.resumeSession(login.body.tokens.accessToken)).id, id)
  const replay = await http('POST', '/webauthn/authenticate', { response: device.get(request.body) })
  assert.deepEqual([replay.status, replay.body.code], [400, 'InvalidWebAuthnChallenge'])

  assert.equal((await http('POST', '/webauthn/passkeys/remove', { id: added.body.id }, bearer)).status, 200)
  assert.deepEqual((await http('GET', '/webauthn/passkeys', undefined, bearer)).body, [])
  const again = await http('POST', '/webauthn/authenticationOptions', {})
  const refused = await http('POST', '/webauthn/authenticate', { response: device.get(again.body) })
  assert.deepEqual([refused.status, refused.body.code], [400, 'WebAuthnVerificationFailed'])
})

test('REST routes in cookie mode: CSRF on the cookie, the session in cookies', async () => {
  const { server, password } = setup({ siteUrl: ORIGIN, web: { cookies: true } })
  const id = await password.createUser({ username: 'ada', password: 'correct horse' })
  const jar = new Map()
  const http = async (method, path, body, headers = {}) => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    const r = await server.handleHttp(json(method, path, body, { origin: ORIGIN, ...(cookie ? { cookie } : {}), ...headers }))
    for (const [name, value] of r.headers) {
      if (name !== 'set-cookie') continue
      const [pair, ...attributes] = value.split(';')
      const [k, v] = pair.split('=')
      if (attributes.some((a) => a.trim() === 'Max-Age=0')) jar.delete(k)
      else jar.set(k, v)
    }
    return parse(r)
  }
  assert.equal((await http('POST', '/password/authenticate', { user: { username: 'ada' }, password: 'correct horse' })).status, 200)
  const csrf = () => ({ 'x-csrf-token': jar.get('__Host-accounts_csrf') })
  assert.equal((await http('POST', '/webauthn/registrationOptions', {})).status, 403)
  const creation = await http('POST', '/webauthn/registrationOptions', {}, csrf())
  assert.equal(creation.status, 200)
  const device = new SoftAuthenticator({ origin: ORIGIN, alg: 'EdDSA' })
  const answer = { response: device.create(creation.body), name: 'Key' }
  assert.equal((await http('POST', '/webauthn/register', answer)).status, 403)
  assert.equal((await http('POST', '/webauthn/register', answer, csrf())).status, 200)
  assert.equal((await http('POST', '/logout', {}, csrf())).status, 200)
  assert.equal(jar.has('__Host-accounts_access'), false)

  const request = await http('POST', '/webauthn/authenticationOptions', {})
  const login = await http('POST', '/webauthn/authenticate', { response: device.get(request.body) })
  assert.equal(login.status, 200)
  assert.equal(login.body.tokens, undefined, 'the tokens live in cookies only')
  assert.equal((await http('GET', '/user')).body.id, id)
  const evil = await http('POST', '/webauthn/authenticate', { response: device.get((await http('POST', '/webauthn/authenticationOptions', {})).body) }, { origin: 'https://evil.example' })
  assert.equal(evil.status, 403)
})
