'use strict'
// The accounts-js REST API served from Python (accounts.asgi.rest_app under uvicorn), driven over
// loopback HTTP by the unchanged @accounts/rest-client + client + client-password: the flow
// rest.test.js runs against rest-express. ACCOUNTS_TEST_PYTHON names the interpreter of a venv with
// accounts-rs and its `asgi` extra (make test-node sets it).
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { RestClient } = require('@accounts/rest-client')
const { AccountsClient } = require('@accounts/client')
const { AccountsClientPassword } = require('@accounts/client-password')
const { authenticator } = require('otplib')

const PYTHON = process.env.ACCOUNTS_TEST_PYTHON
const APP_DIR = path.join(__dirname, '..', '..', '..', 'python', 'tests', 'asgi_app')

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

async function start(options = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accounts-pyrest-'))
  const port = await freePort()
  const env = { ...process.env, ACCOUNTS_TEST_DB: `sqlite:${path.join(dir, 'app.db')}`, ACCOUNTS_TEST_OPTIONS: JSON.stringify(options) }
  const child = spawn(PYTHON, ['-m', 'uvicorn', 'app:app', '--app-dir', APP_DIR, '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning'], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    try {
      await fetch(`${base}/test/mails`)
      break
    } catch (e) {
      if (i > 100 || child.exitCode !== null) throw new Error(`uvicorn did not start: ${e.message}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const storage = new Map()
  const tokenStorage = {
    getItem: async (k) => (storage.has(k) ? storage.get(k) : null),
    setItem: async (k, v) => void storage.set(k, v),
    removeItem: async (k) => void storage.delete(k),
  }
  const rest = new RestClient({ apiHost: base, rootPath: '/accounts' })
  const client = new AccountsClient({ tokenStorage }, rest)
  const password = new AccountsClientPassword(client)
  const mails = async () => (await fetch(`${base}/test/mails`)).json()
  const lastToken = async (type) => {
    const all = await mails()
    const mail = all[all.length - 1]
    assert.equal(mail.type, type)
    return /\/([0-9a-f]{64})$/.exec(mail.text)[1]
  }
  const me = async (token) => {
    const res = await fetch(`${base}/app/me`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
    return { status: res.status, body: res.status === 200 ? await res.json() : await res.text() }
  }
  const stop = () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', resolve), child.kill())))
  return { base, rest, client, password, mails, lastToken, me, stop }
}

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.code, code, `${e.message}`)
    return true
  })
}

test('the accounts-js clients against a Python backend: register to logout', { skip: !PYTHON && 'ACCOUNTS_TEST_PYTHON is not set' }, async (t) => {
  const h = await start()
  t.after(h.stop)
  const { client, password, rest, mails, lastToken, me } = h

  assert.deepEqual(await password.createUser({ email: 'dana@example.com', password: 'first password' }), {})
  assert.deepEqual(await password.createUser({ email: 'DANA@example.com', password: 'other password' }), {}, 'ambiguous: a taken email looks like a success')

  await password.requestVerificationEmail('dana@example.com')
  await password.verifyEmail(await lastToken('verifyEmail'))
  await rejectsWith(password.verifyEmail('f'.repeat(64)), 'VerifyEmailLinkExpired')

  await rejectsWith(password.login({ user: { email: 'dana@example.com' }, password: 'wrong password' }), 'InvalidCredentials')
  const login = await password.login({ user: { email: 'dana@example.com' }, password: 'first password' })
  const user = await client.getUser()
  assert.equal(user.id, login.user.id)
  assert.equal(user.emails[0].verified, true, 'the link verified the address')
  assert.deepEqual((await me(login.tokens.accessToken)).body, { id: user.id }, 'CurrentUser resumes the session')
  assert.equal((await me(null)).status, 401)
  await password.addEmail('second@example.com')
  assert.deepEqual((await client.getUser()).emails.map((e) => e.address), ['dana@example.com', 'second@example.com'])

  const before = await client.getTokens()
  const refreshed = await client.refreshSession(true)
  assert.notEqual(refreshed.refreshToken, before.refreshToken)
  assert.equal((await client.getUser()).id, user.id)

  await password.changePassword('first password', 'second password')
  await rejectsWith(password.changePassword('first password', 'third password'), 'InvalidCredentials')

  const count = (await mails()).length
  await password.requestPasswordReset('nobody@example.com') // silent in ambiguous mode
  assert.equal((await mails()).length, count)
  await password.requestPasswordReset('dana@example.com')
  await rejectsWith(password.resetPassword(await lastToken('resetPassword'), 'short'), 'InvalidNewPassword')
  await password.resetPassword(await lastToken('resetPassword'), 'third password')
  assert.equal(await client.getUser(), null, 'the reset revoked the session')
  await rejectsWith(password.login({ user: { email: 'dana@example.com' }, password: 'second password' }), 'InvalidCredentials')

  await password.login({ user: { email: 'dana@example.com' }, password: 'third password' })
  const { secret } = await rest.getTwoFactorSecret()
  await rest.twoFactorSet(secret, authenticator.generate(secret.base32))
  await client.logout()
  assert.equal(await client.getTokens(), null)
  await rejectsWith(password.login({ user: { email: 'dana@example.com' }, password: 'third password' }), 'TwoFactorCodeRequired')

  // Magic link: for a user with two-factor the link alone is not enough; for another it logs in.
  await rest.requestMagicLinkEmail('dana@example.com')
  await rejectsWith(client.loginWithService('magicLink', { token: await lastToken('magicLink') }), 'TwoFactorCodeRequired')
  await password.createUser({ email: 'erin@example.com' })
  await rest.requestMagicLinkEmail('erin@example.com')
  const viaLink = await client.loginWithService('magicLink', { token: await lastToken('magicLink') })
  assert.equal((await client.getUser()).id, viaLink.user.id)
  assert.equal(viaLink.user.emails[0].address, 'erin@example.com')
  await client.logout()
})

test('not ambiguous: the Python transport reports a taken email', { skip: !PYTHON && 'ACCOUNTS_TEST_PYTHON is not set' }, async (t) => {
  const h = await start({ ambiguous_error_messages: false })
  t.after(h.stop)
  const created = await h.password.createUser({ email: 'dana@example.com', password: 'first password' })
  assert.equal(typeof created.userId, 'string')
  await rejectsWith(h.password.createUser({ email: 'dana@example.com', password: 'first password' }), 'EmailAlreadyExists')
  await rejectsWith(h.rest.requestMagicLinkEmail('nobody@example.com'), 'UserNotFound')
})
