'use strict'
// The passkey routes (docs/passkeys.md) through the Express adapter over real HTTP, in bearer and in
// cookie mode: a registration and a usernameless sign-in each, with the software authenticator of
// test-support/webauthn.js. (The same routes through accounts.asgi: bindings/python/tests/test_webauthn.py.)
const test = require('node:test')
const assert = require('node:assert/strict')
const express = require('express')
const { AccountsServer } = require('accounts-rs')
const { accountsRouter, currentUser } = require('accounts-rs/express')
const { SoftAuthenticator } = require('../../test-support/webauthn')

const SECRET = 'webauthn-express-secret-0123456789abcdef-01'
const FAST = { password: { hashing: { memoryKib: 256, iterations: 1, parallelism: 1 } } }
const ORIGIN = 'https://app.example'

async function start(extra) {
  const server = new AccountsServer({
    db: 'sqlite::memory:',
    tokenSecret: SECRET,
    siteUrl: ORIGIN,
    services: { ...FAST, webauthn: { rpId: 'app.example', rpName: 'Example', origins: [ORIGIN] } },
    ...extra,
  })
  const app = express()
  app.use('/accounts', accountsRouter(server))
  app.get('/api/me', currentUser(server), (req, res) => res.json({ user: req.user }))
  const http = await new Promise((resolve) => {
    const h = app.listen(0, '127.0.0.1', () => resolve(h))
  })
  const base = `http://127.0.0.1:${http.address().port}`
  const id = await server.getServices().password.createUser({ username: 'ada', password: 'correct horse' })
  return { server, base, id, stop: () => new Promise((r) => http.close(r)) }
}

/** A client with a cookie jar; every request carries the page's Origin. */
function client(base) {
  const jar = new Map()
  return {
    jar,
    async call(method, path, body, headers = {}) {
      const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { origin: ORIGIN, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(cookie ? { cookie } : {}), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      for (const line of res.headers.getSetCookie()) {
        const [pair, ...attributes] = line.split(';')
        const [k, v] = pair.split('=')
        if (attributes.some((a) => a.trim() === 'Max-Age=0')) jar.delete(k)
        else jar.set(k, v)
      }
      return { status: res.status, body: await res.json() }
    },
  }
}

test('express, bearer mode: add a passkey, sign in with it', async (t) => {
  const app = await start({})
  t.after(app.stop)
  const { call } = client(app.base)
  const login = await call('POST', '/accounts/password/authenticate', { user: { username: 'ada' }, password: 'correct horse' })
  const bearer = { authorization: `Bearer ${login.body.tokens.accessToken}` }
  assert.equal((await call('POST', '/accounts/webauthn/registrationOptions', {})).status, 401)
  const creation = await call('POST', '/accounts/webauthn/registrationOptions', {}, bearer)
  assert.equal(creation.status, 200)
  const device = new SoftAuthenticator({ origin: ORIGIN })
  const added = await call('POST', '/accounts/webauthn/register', { response: device.create(creation.body), name: 'Laptop' }, bearer)
  assert.deepEqual([added.status, added.body.name], [200, 'Laptop'])
  assert.deepEqual((await call('GET', '/accounts/webauthn/passkeys', undefined, bearer)).body.map((p) => p.id), [added.body.id])

  const request = await call('POST', '/accounts/webauthn/authenticationOptions', {})
  const signedIn = await call('POST', '/accounts/webauthn/authenticate', { response: device.get(request.body) })
  assert.equal(signedIn.status, 200)
  const me = await fetch(`${app.base}/api/me`, { headers: { authorization: `Bearer ${signedIn.body.tokens.accessToken}` } })
  assert.equal((await me.json()).user.id, app.id)
})

test('express, cookie mode: CSRF on the passkey routes, the passkey session in cookies', async (t) => {
  const app = await start({ web: { cookies: true } })
  t.after(app.stop)
  const browser = client(app.base)
  assert.equal((await browser.call('POST', '/accounts/password/authenticate', { user: { username: 'ada' }, password: 'correct horse' })).status, 200)
  const csrf = () => ({ 'x-csrf-token': browser.jar.get('__Host-accounts_csrf') })
  assert.equal((await browser.call('POST', '/accounts/webauthn/registrationOptions', {})).status, 403)
  const creation = await browser.call('POST', '/accounts/webauthn/registrationOptions', {}, csrf())
  const device = new SoftAuthenticator({ origin: ORIGIN, alg: 'EdDSA' })
  const answer = { response: device.create(creation.body), name: 'Key' }
  assert.equal((await browser.call('POST', '/accounts/webauthn/register', answer)).status, 403)
  assert.equal((await browser.call('POST', '/accounts/webauthn/register', answer, csrf())).status, 200)

  const other = client(app.base) // another browser, signed out
  const request = await other.call('POST', '/accounts/webauthn/authenticationOptions', {})
  const signedIn = await other.call('POST', '/accounts/webauthn/authenticate', { response: device.get(request.body) })
  assert.equal(signedIn.status, 200)
  assert.equal(signedIn.body.tokens, undefined, 'the tokens live in cookies only')
  assert.equal((await other.call('GET', '/api/me')).body.user.id, app.id)
})
