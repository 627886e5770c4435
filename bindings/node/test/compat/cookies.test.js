'use strict'
// Cookie sessions through accounts-rs/express (accountsRouter over core's handleHttp): HttpOnly
// cookies instead of tokens in bodies, rotation on refresh, cleared on logout, the session's CSRF
// token on cookie-authenticated requests, cross-site requests refused, bearer tokens still working,
// and the attacks of issue #26 over real HTTP.
const test = require('node:test')
const assert = require('node:assert/strict')
const express = require('express')
const { AccountsServer } = require('accounts-rs')
const { accountsRouter, currentUser } = require('accounts-rs/express')

const SECRET = 'compat-test-secret-0123456789abcdef-012345'
const FAST = { password: { hashing: { memoryKib: 256, iterations: 1, parallelism: 1 } } }

async function start(web = {}) {
  // The jar below is the test's own, so Secure __Host- cookies travel over the loopback http.
  const server = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, services: FAST, siteUrl: 'https://app.example', web: { cookies: true, ...web } })
  const app = express()
  // Before any body parser: the router reads the raw body (core parses and bounds it).
  app.use('/accounts', accountsRouter(server))
  app.use(express.json())
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
  return { server, id, base, jar, request, stop: () => new Promise((r) => http.close(r)) }
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
  assert.match(attrs('__Host-accounts_access'), /HttpOnly/)
  assert.match(attrs('__Host-accounts_access'), /Secure/)
  assert.match(attrs('__Host-accounts_access'), /SameSite=Lax/)
  // The access cookie outlives its token, so a refresh after the token expires still has both.
  const refreshLife = server.getOptions().tokenConfigs.refreshToken.expiresIn
  assert.ok(attrs('__Host-accounts_access').includes(`Max-Age=${refreshLife}`), attrs('__Host-accounts_access'))
  assert.match(attrs('__Host-accounts_refresh'), /(^|; )Path=\/(;|$)/)
  assert.match(attrs('__Host-accounts_refresh'), /SameSite=Strict/)
  assert.doesNotMatch(attrs('__Host-accounts_csrf'), /HttpOnly/)

  assert.equal((await request('GET', '/accounts/user')).body.id, id)
  const csrf = () => ({ 'x-csrf-token': jar.get('__Host-accounts_csrf').value })
  const change = { oldPassword: 'first password', newPassword: 'second password' }
  assert.equal((await request('POST', '/accounts/password/changePassword', change)).status, 403)
  assert.equal((await request('POST', '/accounts/password/changePassword', change, { 'x-csrf-token': 'forged' })).status, 403)
  assert.equal((await request('POST', '/accounts/password/changePassword', change, csrf())).status, 200)
  const evil = { origin: 'https://evil.example', ...csrf() }
  assert.equal((await request('POST', '/accounts/password/changePassword', change, evil)).status, 403, 'cross-site refused')
  assert.equal((await request('POST', '/accounts/password/authenticate', creds, { origin: 'https://evil.example' })).status, 403)

  const before = jar.get('__Host-accounts_refresh').value
  assert.equal((await request('POST', '/accounts/refreshTokens', {})).status, 403, 'refresh needs the CSRF token')
  const refreshed = await request('POST', '/accounts/refreshTokens', {}, csrf())
  assert.equal(refreshed.status, 200)
  assert.equal(refreshed.body.tokens, undefined)
  assert.notEqual(jar.get('__Host-accounts_refresh').value, before, 'rotated')
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

test('the attacks of issue #26 over HTTP', async (t) => {
  const h = await start()
  t.after(h.stop)
  const { jar, request, id } = h
  assert.equal((await request('POST', '/accounts/password/authenticate', creds)).status, 200)
  // A stray malformed cookie on the domain crashes nothing (it used to kill the process).
  const stray = { cookie: `tracking=50%; ${[...jar].map(([k, v]) => `${k}=${v.value}`).join('; ')}` }
  assert.equal((await request('GET', '/api/me', undefined, stray)).body.id, id)
  assert.equal((await request('GET', '/accounts/user', undefined, stray)).body.id, id)
  // A malformed cookie of ours counts as absent: no user (no lock-out either).
  const ours = await request('GET', '/api/me', undefined, { cookie: '__Host-accounts_access=50%' })
  assert.equal(ours.status, 401)
  // No state change on GET; PUT/PATCH/DELETE are not routes; a cross-site form post is refused.
  assert.equal((await request('GET', '/accounts/logout')).status, 405)
  for (const method of ['PUT', 'PATCH', 'DELETE']) assert.equal((await request(method, '/accounts/password/changePassword', {})).status, 405)
  const form = await fetch(`${h.base}/accounts/logout`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'text/plain', cookie: stray.cookie } })
  assert.equal(form.status, 403)
  const nul = await request('POST', '/accounts/password/authenticate', creds, { origin: 'null' })
  assert.deepEqual([nul.status, nul.body.code], [403, 'CsrfRefused'])
  const fetchSite = await request('POST', '/accounts/password/authenticate', creds, { 'sec-fetch-site': 'cross-site' })
  assert.equal(fetchSite.status, 403)
  const scheme = await request('POST', '/accounts/password/authenticate', creds, { origin: 'http://app.example' })
  assert.equal(scheme.status, 403)
  const bad = await fetch(`${h.base}/accounts/password/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":' })
  assert.deepEqual([bad.status, (await bad.json()).code], [400, 'MalformedRequest'])
  const big = await fetch(`${h.base}/accounts/password/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(100 * 1024) })
  assert.equal(big.status, 413)
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
  assert.equal(me.body.token, jar.get('__Host-accounts_access').value)
  assert.equal((await request('GET', '/api/maybe')).body.user.id, id)
  assert.equal((await request('POST', '/api/action', {})).status, 403, 'a cookie POST without the CSRF token')
  assert.equal((await request('POST', '/api/action', {}, { 'x-csrf-token': 'forged' })).body.code, 'CsrfRefused')
  assert.equal((await request('POST', '/api/action', {}, { 'x-csrf-token': jar.get('__Host-accounts_csrf').value })).body.id, id)
  const bearer = (await server.loginWithUser(id)).tokens.accessToken
  assert.equal((await request('POST', '/api/action', {}, { authorization: `Bearer ${bearer}`, cookie: '' })).body.id, id)
  assert.equal((await request('GET', '/api/me', undefined, { authorization: 'Bearer not-a-token', cookie: '' })).status, 401)
  await server.logout(jar.get('__Host-accounts_access').value)
  assert.equal((await request('GET', '/api/me')).status, 401, 'a logged-out session')
})
