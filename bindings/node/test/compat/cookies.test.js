'use strict'
// Cookie sessions in front of the real @accounts/rest-express (accounts-rs/express): HttpOnly
// cookies instead of tokens in bodies, rotation on refresh, cleared on logout, a double-submit CSRF
// token on cookie-authenticated POSTs, cross-site POSTs refused, bearer tokens still working.
const test = require('node:test')
const assert = require('node:assert/strict')
const express = require('express')
const accountsExpress = require('@accounts/rest-express').default
const { AccountsServer } = require('accounts-rs')
const { cookieSessions, currentUser } = require('accounts-rs/express')

const SECRET = 'compat-test-secret-0123456789abcdef-012345'
const FAST = { password: { hashing: { memoryKib: 256, iterations: 1, parallelism: 1 } } }

async function start(options = {}) {
  const server = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, services: FAST })
  const app = express()
  app.use(express.json())
  app.use(cookieSessions(server, options))
  app.use(accountsExpress(server))
  // The app's own routes, behind currentUser.
  app.get('/api/me', currentUser(server), (req, res) => res.json({ id: req.user.id, token: req.accessToken }))
  app.post('/api/action', currentUser(server), (req, res) => res.json({ id: req.user.id }))
  app.get('/api/maybe', currentUser(server, { optional: true }), (req, res) => res.json({ user: req.user }))
  const http = await new Promise((resolve) => {
    const h = app.listen(0, '127.0.0.1', () => resolve(h))
  })
  const base = `http://127.0.0.1:${http.address().port}`
  const jar = new Map()
  // A browser-like cookie jar: keeps what Set-Cookie sends (a Max-Age=0 or past Expires deletes).
  const request = async (method, path, body, headers = {}) => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v.value}`).join('; ')
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim())
      const [name, value] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]
      const expired = attrs.some((a) => /^expires=/i.test(a) && new Date(a.slice(8)) < new Date()) || attrs.includes('Max-Age=0')
      if (expired) jar.delete(name)
      else jar.set(name, { value: decodeURIComponent(value), attrs })
    }
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : null }
  }
  const id = await server.getServices().password.createUser({ email: 'dana@example.com', password: 'first password' })
  return { server, id, jar, request, stop: () => new Promise((r) => http.close(r)) }
}

const creds = { user: { email: 'dana@example.com' }, password: 'first password' }

test('tokens live in HttpOnly cookies; CSRF guards the cookie; refresh rotates; logout clears', async (t) => {
  const h = await start()
  t.after(h.stop)
  const { jar, request, id, server } = h
  const login = await request('POST', '/accounts/password/authenticate', creds)
  assert.equal(login.status, 200)
  assert.equal(login.body.user.id, id)
  assert.equal(login.body.tokens, undefined, 'no tokens in the body')
  const attrs = (name) => jar.get(name).attrs.join('; ')
  assert.match(attrs('accounts_access'), /HttpOnly/)
  assert.match(attrs('accounts_access'), /Secure/)
  assert.match(attrs('accounts_access'), /SameSite=Lax/)
  // The access cookie outlives its token, so a refresh after the token expires still has both.
  const refreshLife = server.getOptions().tokenConfigs.refreshToken.expiresIn
  assert.ok(attrs('accounts_access').includes(`Max-Age=${refreshLife}`), attrs('accounts_access'))
  assert.match(attrs('accounts_refresh'), /Path=\/accounts\/refreshTokens/)
  assert.match(attrs('accounts_refresh'), /SameSite=Strict/)
  assert.doesNotMatch(attrs('accounts_csrf'), /HttpOnly/)

  assert.equal((await request('GET', '/accounts/user')).body.id, id)
  const csrf = () => ({ 'x-csrf-token': jar.get('accounts_csrf').value })
  const change = { oldPassword: 'first password', newPassword: 'second password' }
  assert.equal((await request('POST', '/accounts/password/changePassword', change)).status, 403)
  assert.equal((await request('POST', '/accounts/password/changePassword', change, { 'x-csrf-token': 'forged' })).status, 403)
  assert.equal((await request('POST', '/accounts/password/changePassword', change, csrf())).status, 200)
  const evil = { origin: 'https://evil.example', ...csrf() }
  assert.equal((await request('POST', '/accounts/password/changePassword', change, evil)).status, 403, 'cross-site refused')
  assert.equal((await request('POST', '/accounts/password/authenticate', creds, { origin: 'https://evil.example' })).status, 403)

  const before = jar.get('accounts_refresh').value
  assert.equal((await request('POST', '/accounts/refreshTokens', {})).status, 403, 'refresh needs the CSRF token')
  const refreshed = await request('POST', '/accounts/refreshTokens', {}, csrf())
  assert.equal(refreshed.status, 200)
  assert.equal(refreshed.body.tokens, undefined)
  assert.notEqual(jar.get('accounts_refresh').value, before, 'rotated')
  assert.equal((await request('GET', '/accounts/user')).body.id, id)

  // Bearer tokens keep working beside the cookie mode.
  const bearer = (await server.loginWithUser(id)).tokens.accessToken
  const viaBearer = await request('GET', '/accounts/user', undefined, { authorization: `Bearer ${bearer}`, cookie: '' })
  assert.equal(viaBearer.body.id, id)

  const out = await request('POST', '/accounts/logout', undefined, csrf())
  assert.equal(out.status, 200)
  assert.equal(jar.size, 0, 'logout cleared the cookies')
  assert.equal((await request('GET', '/accounts/user')).body, null)
})

test('trusted origins may post', async (t) => {
  const h = await start({ trustedOrigins: ['https://front.example'] })
  t.after(h.stop)
  assert.equal((await h.request('POST', '/accounts/password/authenticate', creds, { origin: 'https://front.example' })).status, 200)
  assert.equal((await h.request('POST', '/accounts/password/authenticate', creds, { origin: 'https://other.example' })).status, 403)
})

test('currentUser guards app routes: cookie or bearer, CSRF on POST, 401 without a session', async (t) => {
  const h = await start()
  t.after(h.stop)
  const { jar, request, id, server } = h
  assert.equal((await request('GET', '/api/me')).status, 401)
  assert.deepEqual((await request('GET', '/api/maybe')).body, { user: null })
  assert.equal((await request('POST', '/accounts/password/authenticate', creds)).status, 200)
  const me = await request('GET', '/api/me')
  assert.equal(me.status, 200)
  assert.equal(me.body.id, id)
  assert.equal(me.body.token, jar.get('accounts_access').value)
  assert.equal((await request('GET', '/api/maybe')).body.user.id, id)
  assert.equal((await request('POST', '/api/action', {})).status, 401, 'a cookie POST without the CSRF token')
  assert.equal((await request('POST', '/api/action', {}, { 'x-csrf-token': 'forged' })).status, 401)
  assert.equal((await request('POST', '/api/action', {}, { 'x-csrf-token': jar.get('accounts_csrf').value })).body.id, id)
  const bearer = (await server.loginWithUser(id)).tokens.accessToken
  assert.equal((await request('POST', '/api/action', {}, { authorization: `Bearer ${bearer}`, cookie: '' })).body.id, id)
  assert.equal((await request('GET', '/api/me', undefined, { authorization: 'Bearer not-a-token', cookie: '' })).status, 401)
  await server.logout(jar.get('accounts_access').value)
  assert.equal((await request('GET', '/api/me')).status, 401, 'a logged-out session')
})
