'use strict'
// Key rings from Node (docs/tokens.md, "Key rotation"): rotation with a live session, the JWKS,
// stateless verification, resealAll — and interop with `jose` both ways: our tokens verify in jose
// from the JWKS, jose's tokens verify here exactly when they should.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { AccountsServer, verifyAccessToken, isAccountsError } = require('..')

const KEYS = path.join(__dirname, '..', '..', '..', 'core', 'tests', 'keys')
const { FAST } = require('../test-support/helpers')
const SEALING = 'node-sealing-secret-0123456789abcdef-01'
const HMAC = { kid: 'h1', algorithm: 'HS256', secret: 'node-ring-secret-0123456789abcdef-0123' }
const pem = (name) => fs.readFileSync(path.join(KEYS, name), 'utf8')
const pair = (kid, algorithm, kind) => ({ kid, algorithm, privateKey: pem(`${kind}.pem`), publicKey: pem(`${kind}.pub.pem`) })
const ringed = (current, ...keys) => new AccountsServer({ db: 'sqlite::memory:', tokenKeys: { current, keys }, sealingSecret: SEALING, services: FAST })
const header = (t) => JSON.parse(Buffer.from(t.split('.')[0], 'base64url').toString())
const code = (fn) => {
  try {
    fn()
  } catch (e) {
    assert.ok(isAccountsError(e), `not an AccountsError: ${e}`)
    return e.code
  }
  return 'no error'
}

async function login(server) {
  const id = await server.getServices().password.createUser({ username: 'kim', password: 'correct horse' })
  return { id, session: await server.loginWithUser(id) }
}

test('rotation with a live session, the JWKS and resealAll', async () => {
  const server = ringed('h1', HMAC)
  const { id, session } = await login(server)
  assert.deepEqual(server.getJwks(), { keys: [] }, 'an HMAC key is never published')
  server.setKeys({ current: 'ed', keys: [HMAC, pair('ed', 'EdDSA', 'ed')] })
  assert.equal((await server.resumeSession(session.tokens.accessToken)).id, id)
  const next = await server.refreshTokens(session.tokens.accessToken, session.tokens.refreshToken)
  assert.equal(header(next.tokens.accessToken).kid, 'ed')
  server.setKeys({ current: 'ed', keys: [pair('ed', 'EdDSA', 'ed')] })
  await assert.rejects(server.resumeSession(session.tokens.accessToken), (e) => e.code === 'TokenVerificationFailed')
  assert.equal((await server.resumeSession(next.tokens.accessToken)).id, id)
  assert.equal(code(() => server.setKeys({ current: 'missing', keys: [HMAC] })), 'InvalidConfig')
  assert.equal(await server.resealAll(), 0)
})

for (const [kind, alg] of [['ed', 'EdDSA'], ['ec', 'ES256'], ['rsa', 'RS256']]) {
  test(`our ${alg} tokens verify in jose from the JWKS`, async () => {
    const jose = await import('jose')
    const server = ringed('k', pair('k', alg, kind))
    const { id, session } = await login(server)
    const { payload, protectedHeader } = await jose.jwtVerify(session.tokens.accessToken, jose.createLocalJWKSet(server.getJwks()), { algorithms: [alg] })
    assert.equal(payload.sub, id)
    assert.equal(payload.data.userId, id)
    assert.equal(protectedHeader.kid, 'k')
    assert.equal(verifyAccessToken(session.tokens.accessToken, { jwks: server.getJwks() }).sub, id)
  })
}

test("jose's tokens are accepted exactly when they should be", async () => {
  const jose = await import('jose')
  const server = ringed('ed', pair('ed', 'EdDSA', 'ed'))
  const jwks = server.getJwks()
  const ours = await jose.importPKCS8(pem('ed.pem'), 'EdDSA')
  const claims = { data: { userId: 'u1', sessionId: 's1', isImpersonated: false }, typ: 'access' }
  const sign = (key, alg, kid, extra = {}, exp = '1m') =>
    new jose.SignJWT({ ...claims, ...extra }).setProtectedHeader({ alg, kid }).setSubject('u1').setIssuedAt().setExpirationTime(exp).sign(key)
  assert.equal(verifyAccessToken(await sign(ours, 'EdDSA', 'ed'), { jwks }).sub, 'u1')
  const stranger = (await jose.generateKeyPair('EdDSA')).privateKey
  const otherEc = (await jose.generateKeyPair('ES256')).privateKey
  const refused = [
    await sign(stranger, 'EdDSA', 'ed'), // another key under our kid
    await sign(ours, 'EdDSA', 'nope'), // a kid we do not have
    await sign(otherEc, 'ES256', 'ed'), // another algorithm under our kid
    await sign(new TextEncoder().encode(pem('ed.pub.pem')), 'HS256', 'ed'), // the public key as an HMAC secret
    await sign(ours, 'EdDSA', 'ed', { typ: 'refresh' }), // not an access token
    await sign(ours, 'EdDSA', 'ed', {}, Math.floor(Date.now() / 1000) - 10), // expired
    new jose.UnsecuredJWT({ ...claims, sub: 'u1' }).setExpirationTime('1m').encode(), // alg: none
  ]
  for (const token of refused) {
    assert.equal(code(() => verifyAccessToken(token, { jwks })), 'TokenVerificationFailed', token)
  }
  await assert.rejects(server.resumeSession(await sign(stranger, 'EdDSA', 'ed')), (e) => e.code === 'TokenVerificationFailed')
})
