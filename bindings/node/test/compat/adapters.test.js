'use strict'
// One scenario suite over the three adapters of core's web edge (docs/web.md), each over real HTTP:
// Express (accounts-rs/express), ASGI under uvicorn (accounts.asgi; ACCOUNTS_TEST_PYTHON names a venv
// with accounts-rs and its asgi extra) and C on libmicrohttpd (examples/c/rest_server.c;
// ACCOUNTS_TEST_REST_SERVER names the binary `make rest-server` builds). In bearer mode the unchanged
// accounts-js clients go through register, verify, login, user, refresh, change and reset password,
// two-factor, magic link and logout; in cookie mode every attack of issue #26 gets its refusal.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const express = require('express')
const { RestClient } = require('@accounts/rest-client')
const { AccountsClient } = require('@accounts/client')
const { AccountsClientPassword } = require('@accounts/client-password')
const { authenticator } = require('otplib')
const { AccountsServer } = require('accounts-rs')
const { accountsRouter, currentUser } = require('accounts-rs/express')

const PYTHON = process.env.ACCOUNTS_TEST_PYTHON
const REST_SERVER = process.env.ACCOUNTS_TEST_REST_SERVER
const SECRET = 'adapters-test-secret-0123456789abcdef-0123'
const FAST = { password: { hashing: { memoryKib: 256, iterations: 1, parallelism: 1 } } }
const SITE = 'https://app.example'

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

async function waitFor(base, child) {
  for (let i = 0; ; i++) {
    try {
      await fetch(`${base}/accounts/user`)
      return
    } catch (e) {
      if (i > 100 || (child && child.exitCode !== null)) throw new Error(`the server did not start: ${e.message}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

const stopChild = (child) => () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', resolve), child.kill())))

/** Each adapter: `start(web)` → {base, me (the app route behind the user check), mails(), stop()}. */
const ADAPTERS = {
  express: {
    skip: false,
    async start(web) {
      const mails = []
      const server = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, services: FAST, siteUrl: SITE, web, sendMail: (m) => void mails.push(m) })
      const app = express()
      app.use('/accounts', accountsRouter(server))
      app.all('/api/me', currentUser(server), (req, res) => res.json({ user: req.user }))
      const http = await new Promise((resolve) => {
        const h = app.listen(0, '127.0.0.1', () => resolve(h))
      })
      return { base: `http://127.0.0.1:${http.address().port}`, me: '/api/me', mails: async () => mails, stop: () => new Promise((r) => http.close(r)) }
    },
  },
  asgi: {
    skip: !PYTHON && 'ACCOUNTS_TEST_PYTHON is not set',
    async start(web) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accounts-adapters-'))
      const port = await freePort()
      const env = { ...process.env, ACCOUNTS_TEST_DB: `sqlite:${path.join(dir, 'app.db')}`, ACCOUNTS_TEST_OPTIONS: JSON.stringify({ web: { ...web, siteOrigin: SITE } }) }
      const appDir = path.join(__dirname, '..', '..', '..', 'python', 'tests', 'asgi_app')
      const child = spawn(PYTHON, ['-m', 'uvicorn', 'app:app', '--app-dir', appDir, '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning'], {
        env,
        stdio: ['ignore', 'inherit', 'inherit'],
      })
      const base = `http://127.0.0.1:${port}`
      await waitFor(base, child)
      return { base, me: '/app/me', mails: async () => (await fetch(`${base}/test/mails`)).json(), stop: stopChild(child) }
    },
  },
  c: {
    skip: !REST_SERVER && 'ACCOUNTS_TEST_REST_SERVER is not set',
    async start(web) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accounts-adapters-'))
      const port = await freePort()
      const config = { db: `sqlite:${path.join(dir, 'app.db')}`, tokenSecret: SECRET, services: FAST, siteUrl: SITE, web }
      const env = { ...process.env, PORT: String(port), ACCOUNTS_CONFIG: JSON.stringify(config), ACCOUNTS_DEV_INBOX: '1' }
      const child = spawn(REST_SERVER, [], { env, stdio: ['ignore', 'ignore', 'inherit'] })
      const base = `http://127.0.0.1:${port}`
      await waitFor(base, child)
      return { base, me: '/api/me', mails: async () => (await (await fetch(`${base}/dev/mails`)).json()).mails.reverse(), stop: stopChild(child) }
    },
  },
}

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.code, code, `${e.message}`)
    return true
  })
}

for (const [name, adapter] of Object.entries(ADAPTERS)) {
  test(`${name}: the accounts-js clients in bearer mode, register to logout`, { skip: adapter.skip }, async (t) => {
    const h = await adapter.start({})
    t.after(h.stop)
    const storage = new Map()
    const tokenStorage = {
      getItem: async (k) => (storage.has(k) ? storage.get(k) : null),
      setItem: async (k, v) => void storage.set(k, v),
      removeItem: async (k) => void storage.delete(k),
    }
    const rest = new RestClient({ apiHost: h.base, rootPath: '/accounts' })
    const client = new AccountsClient({ tokenStorage }, rest)
    const password = new AccountsClientPassword(client)
    const lastToken = async (type) => {
      const all = await h.mails()
      const mail = all[all.length - 1]
      assert.equal(mail.type, type)
      return /\/([0-9a-f]{64})$/.exec(mail.text)[1]
    }
    const me = async (token) => {
      const res = await fetch(`${h.base}${h.me}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
      return { status: res.status, body: res.status === 200 ? await res.json() : null }
    }

    assert.deepEqual(await password.createUser({ email: 'dana@example.com', password: 'first password' }), {})
    assert.deepEqual(await password.createUser({ email: 'DANA@example.com', password: 'other password' }), {}, 'ambiguous: taken looks created')
    await password.requestVerificationEmail('dana@example.com')
    await password.verifyEmail(await lastToken('verifyEmail'))
    await rejectsWith(password.login({ user: { email: 'dana@example.com' }, password: 'wrong password' }), 'InvalidCredentials')
    const login = await password.login({ user: { email: 'dana@example.com' }, password: 'first password' })
    const user = await client.getUser()
    assert.equal(user.id, login.user.id)
    assert.equal(user.emails[0].verified, true)
    const mine = await me(login.tokens.accessToken)
    assert.equal(mine.status, 200)
    assert.equal((mine.body.user || mine.body).id, user.id, 'the app route resumes the session')
    assert.equal((await me(null)).status, 401)

    const before = await client.getTokens()
    const refreshed = await client.refreshSession(true)
    assert.notEqual(refreshed.refreshToken, before.refreshToken)
    await password.changePassword('first password', 'second password')
    await rejectsWith(password.changePassword('first password', 'third password'), 'InvalidCredentials')
    await password.requestPasswordReset('dana@example.com')
    await password.resetPassword(await lastToken('resetPassword'), 'third password')
    assert.equal(await client.getUser(), null, 'the reset revoked the session')

    await password.login({ user: { email: 'dana@example.com' }, password: 'third password' })
    const { secret } = await rest.getTwoFactorSecret()
    await rest.twoFactorSet(secret, authenticator.generate(secret.base32))
    await client.logout()
    assert.equal(await client.getTokens(), null)
    await rejectsWith(password.login({ user: { email: 'dana@example.com' }, password: 'third password' }), 'TwoFactorCodeRequired')
    await password.createUser({ email: 'erin@example.com' })
    await rest.requestMagicLinkEmail('erin@example.com')
    const viaLink = await client.loginWithService('magicLink', { token: await lastToken('magicLink') })
    assert.equal((await client.getUser()).id, viaLink.user.id)
    await client.logout()
  })

  test(`${name}: cookie mode and the attacks of issue #26`, { skip: adapter.skip }, async (t) => {
    const h = await adapter.start({ cookies: true })
    t.after(h.stop)
    const send = async (method, route, { body, headers = {}, raw } = {}) => {
      const res = await fetch(`${h.base}${route}`, {
        method,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
      })
      const text = await res.text()
      let json = null
      try {
        json = text ? JSON.parse(text) : null
      } catch (_) {}
      return { status: res.status, body: json, cookies: res.headers.getSetCookie() }
    }
    const creds = { user: { email: 'dana@example.com' }, password: 'first password' }
    await send('POST', '/accounts/password/register', { body: { user: { email: 'dana@example.com', password: 'first password' } } })
    const login = await send('POST', '/accounts/password/authenticate', { body: creds, headers: { origin: SITE } })
    assert.equal(login.status, 200)
    assert.equal(login.body.tokens, undefined, 'tokens only in cookies')
    const jar = Object.fromEntries(login.cookies.map((c) => c.split(';')[0].split('=')))
    assert.ok(jar['__Host-accounts_access'] && jar['__Host-accounts_csrf'])
    const cookie = Object.entries(jar).map(([k, v]) => `${k}=${v}`).join('; ')
    const csrf = jar['__Host-accounts_csrf']
    const expect = async (label, r, status, code) => {
      const got = await r
      assert.equal(got.status, status, `${label}: ${JSON.stringify(got.body)}`)
      if (code) assert.equal(got.body.code, code, label)
      return got
    }

    const change = { oldPassword: 'first password', newPassword: 'second password' }
    await expect('a stray malformed cookie', send('GET', h.me, { headers: { cookie: `tracking=50%; ${cookie}` } }), 200)
    const malformed = await expect('a malformed cookie of ours (absent)', send('GET', '/accounts/user', { headers: { cookie: '__Host-accounts_access=50%' } }), 200)
    assert.equal(malformed.body, null)
    await expect('missing CSRF cookie and header', send('POST', '/accounts/password/changePassword', { body: change, headers: { cookie: `__Host-accounts_access=${jar['__Host-accounts_access']}` } }), 403, 'CsrfRefused')
    await expect('a GET with side effects', send('GET', '/accounts/logout', { headers: { cookie } }), 405, 'MethodNotAllowed')
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      await expect(`${method} on a route`, send(method, '/accounts/password/changePassword', { body: change, headers: { cookie } }), 405, 'MethodNotAllowed')
      await expect(`${method} on an app route`, send(method, h.me, { headers: { cookie } }), 403)
    }
    await expect('a cross-site text/plain POST', send('POST', '/accounts/logout', { raw: '{}', headers: { cookie, 'x-csrf-token': csrf, origin: 'https://evil.example', 'content-type': 'text/plain' } }), 403, 'CsrfRefused')
    await expect('Origin: null', send('POST', '/accounts/password/authenticate', { body: creds, headers: { origin: 'null' } }), 403, 'CsrfRefused')
    await expect('Sec-Fetch-Site: cross-site', send('POST', '/accounts/password/authenticate', { body: creds, headers: { 'sec-fetch-site': 'cross-site' } }), 403, 'CsrfRefused')
    await expect('an Origin of another scheme', send('POST', '/accounts/password/authenticate', { body: creds, headers: { origin: 'http://app.example' } }), 403, 'CsrfRefused')
    const tossed = await expect('a tossed unprefixed cookie', send('GET', '/accounts/user', { headers: { cookie: `accounts_access=${jar['__Host-accounts_access']}` } }), 200)
    assert.equal(tossed.body, null, 'an unprefixed cookie is not ours')
    const twice = await expect('a second same-name cookie (neither used)', send('GET', '/accounts/user', { headers: { cookie: `${cookie}; __Host-accounts_access=x.y.z` } }), 200)
    assert.equal(twice.body, null)
    await expect('malformed JSON', send('POST', '/accounts/password/register', { raw: '{"user":', headers: { 'content-type': 'application/json' } }), 400, 'MalformedRequest')
    await expect('malformed UTF-8', send('POST', '/accounts/password/register', { raw: Buffer.from([0x22, 0xff, 0x22]), headers: { 'content-type': 'application/json' } }), 400, 'MalformedRequest')
    await expect('a body over the limit', send('POST', '/accounts/password/register', { raw: 'x'.repeat(100 * 1024), headers: { 'content-type': 'application/json' } }), 413, 'PayloadTooLarge')
    // Forged forwarding headers from an untrusted peer: the session records the peer.
    const forged = await send('POST', '/accounts/password/authenticate', { body: creds, headers: { origin: SITE, 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.7' } })
    assert.equal(forged.status, 200)
    // With the CSRF token the cookie works, and logout clears the cookies.
    await expect('the CSRF token', send('POST', '/accounts/password/changePassword', { body: change, headers: { cookie, 'x-csrf-token': csrf, origin: SITE } }), 200)
    const out = await expect('logout', send('POST', '/accounts/logout', { headers: { cookie, 'x-csrf-token': csrf, origin: SITE } }), 200)
    assert.equal(out.cookies.filter((c) => c.includes('Max-Age=0')).length, 3)
    assert.equal((await send('GET', h.me, { headers: { cookie } })).status, 401, 'the session ended')
  })
}
