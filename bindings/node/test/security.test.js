'use strict'
// Security rules through the Node package (docs/security.md): attempt limits, the second factor on
// reset links, look-alike identifiers, redacted options, the purge — and host callbacks that
// misbehave in every way a JS function can, without crashing or hanging the process.
const test = require('node:test')
const assert = require('node:assert/strict')
const { authenticator } = require('otplib')
const { AccountsServer, isAccountsError } = require('..')

const { SECRET, FAST, rejects, memoryServer: make } = require('../test-support/helpers')
const IP = { ip: '198.51.100.7' }


let unhandled = 0
process.on('unhandledRejection', () => unhandled++)

test('password guesses are limited, with retryAfter and an event', async () => {
  const s = make()
  await s.getServices().password.createUser({ username: 'gail', password: "gail's password" })
  const seen = []
  s.on('TooManyAttempts', (payload) => seen.push(payload))
  for (let i = 0; i < 5; i++) {
    await rejects(s.loginWithService('password', { user: 'gail', password: 'a wrong guess' }, IP), 'InvalidCredentials')
  }
  const e = await rejects(s.loginWithService('password', { user: 'gail', password: "gail's password" }, IP), 'TooManyAttempts')
  assert.equal(e.details.retryAfter, 900)
  assert.equal(seen.length, 1)
  assert.equal(seen[0].attempt, 'password')
  await s.loginWithService('password', { user: 'gail', password: "gail's password" }, { ip: '203.0.113.9' })
})

test('a reset link opens a session for a two-factor user only with a code', async () => {
  const mails = []
  const s = make({
    services: { password: { ...FAST.password, returnTokensAfterResetPassword: true } },
    sendMail: (mail) => {
      mails.push(mail)
    },
  })
  const p = s.getServices().password
  const id = await p.createUser({ email: 'dana@example.com', password: 'first password' })
  const secret = p.twoFactor.getNewAuthSecret()
  await p.twoFactor.set(id, secret, authenticator.generate(secret.base32))
  const link = async () => {
    await p.sendResetPasswordEmail('dana@example.com')
    return /\/([0-9a-f]{64})$/.exec(mails[mails.length - 1].text)[1]
  }
  const token = await link()
  const now = authenticator.generate(secret.base32)
  await rejects(p.resetPassword(token, 'second password', undefined, now === '000000' ? '111111' : '000000'), 'TwoFactorCodeDidNotMatch')
  assert.equal(await p.resetPassword(token, 'second password'), null, 'the password changed, no session')
  await rejects(s.loginWithService('password', { user: 'dana@example.com', password: 'second password' }), 'TwoFactorCodeRequired')
  await rejects(p.resetPassword(await link(), 'third password', undefined, 42), 'InvalidArgument')
})

test('look-alike identifiers are one account; purgeExpired reports what it deleted', async () => {
  const s = make()
  const p = s.getServices().password
  await p.createUser({ username: 'alice', email: 'alice@example.com' })
  await rejects(p.createUser({ username: 'Alice' }), 'UsernameAlreadyExists')
  for (const bad of [' alice', 'alice\u200b', 'al\u0456ce', 'al\0ice']) await rejects(p.createUser({ username: bad }), 'InvalidUsername')
  await rejects(p.createUser({ email: 'ALICE@example.com' }), 'EmailAlreadyExists')
  // The library's rules hold whatever the host's validators let through.
  const lax = make({ validateUsername: () => true, validateEmail: async () => true })
  await lax.getServices().password.createUser({ username: 'jürgen', email: 'jürgen@example.de' })
  await rejects(lax.getServices().password.createUser({ username: 'JU\u0308RGEN' }), 'UsernameAlreadyExists')
  await rejects(lax.getServices().password.createUser({ email: ' JÜRGEN@example.de ' }), 'EmailAlreadyExists')
  await rejects(lax.getServices().password.createUser({ username: 'al\u0456ce' }), 'InvalidUsername')
  assert.deepEqual(await s.purgeExpired(), { tokens: 0, attempts: 0 })
})

test('options never show the database password', { skip: !process.env.ACCOUNTS_TEST_PG_URL && 'no PostgreSQL server' }, () => {
  const url = process.env.ACCOUNTS_TEST_PG_URL.replace('postgres://postgres@', 'postgres://postgres:pg-s3cret@')
  const s = make({ db: url, dbPoolSize: 1 })
  assert.ok(!JSON.stringify(s.options).includes('pg-s3cret'))
  assert.ok(s.options.db.startsWith('postgres://postgres:[redacted]@'))
})

test('64 misbehaving callbacks in flight reject with coded errors; the process stays healthy', async () => {
  const cycle = () => {
    const o = {}
    o.self = o
    return o
  }
  // The session's userAgent picks how the validator misbehaves.
  const behaviours = {
    throws: () => {
      throw new Error('validator threw')
    },
    rejects: () => Promise.reject(new Error('validator rejected')),
    rejectsWithNothing: () => Promise.reject(undefined),
    bigint: () => 10n,
    cycle,
    hangs: () => new Promise(() => {}),
    fine: () => undefined,
  }
  const s = make({ hostCallbackTimeout: 1, resumeSessionValidator: (user, session) => behaviours[session.userAgent]() })
  await s.getServices().password.createUser({ username: 'hank', password: "hank's password" })
  const tokens = {}
  for (const kind of Object.keys(behaviours)) {
    const login = await s.loginWithService('password', { user: 'hank', password: "hank's password" }, { userAgent: kind })
    tokens[kind] = login.tokens.accessToken
  }
  const kinds = ['throws', 'rejects', 'rejectsWithNothing', 'bigint', 'cycle', 'hangs', 'hangs', 'fine']
  const calls = Array.from({ length: 64 }, (_, i) => {
    const kind = kinds[i % kinds.length]
    return s.resumeSession(tokens[kind]).then(
      (user) => ({ kind, ok: user.username === 'hank' }),
      (e) => ({ kind, code: isAccountsError(e) ? e.code : `not coded: ${e}` }),
    )
  })
  const results = await Promise.all(calls.map((c, i) => c.catch((e) => ({ kind: kinds[i % kinds.length], thrown: e }))))
  for (const r of results) {
    if (r.kind === 'fine') assert.equal(r.ok, true)
    else if (r.kind === 'throws' || r.kind === 'rejects') assert.equal(r.code, 'not coded: Error: validator ' + (r.kind === 'throws' ? 'threw' : 'rejected'), 'the very Error')
    else assert.equal(r.code, 'CallbackError', `${r.kind}: ${JSON.stringify(r)}`)
  }
  // The call rejects with the very object the callback threw: same class, code and message.
  class Denied extends Error {}
  const denial = Object.assign(new Denied('not today'), { code: 'Unauthorized' })
  behaviours.throws = () => {
    throw denial
  }
  await assert.rejects(s.resumeSession(tokens.throws), (e) => e === denial)
  // Afterwards everything works as before: the pools were not exhausted, nothing is left waiting.
  assert.equal((await s.resumeSession(tokens.fine)).username, 'hank')
  await s.loginWithService('password', { user: 'hank', password: "hank's password" })
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(unhandled, 0, 'no unhandled rejection escaped')
})

test('a worker torn down while its callbacks are pending leaves the process healthy', async () => {
  const { Worker } = require('node:worker_threads')
  const path = require('node:path')
  const code = `
    const { parentPort } = require('node:worker_threads')
    const { AccountsServer } = require(${JSON.stringify(path.resolve(__dirname, '..'))})
    const s = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: ${JSON.stringify(SECRET)}, hostCallbackTimeout: 1,
      services: ${JSON.stringify(FAST)}, validateNewUser: () => new Promise(() => {}) })
    for (let i = 0; i < 8; i++) s.getServices().password.createUser({ username: 'u' + i }).catch(() => {})
    parentPort.postMessage('pending')
  `
  for (let round = 0; round < 3; round++) {
    const worker = new Worker(code, { eval: true })
    await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject))
    await worker.terminate()
  }
  // The hashing threads that waited on the dead workers give up after hostCallbackTimeout and
  // settle into environments that are gone; afterwards the main thread's calls still work. The
  // hashing pool is one FIFO queue: the createUser below starts only after every job of the dead
  // workers has been taken (no wait needed to be behind them).
  const s = make()
  await s.getServices().password.createUser({ username: 'after', password: 'long enough' })
  assert.equal((await s.loginWithService('password', { user: 'after', password: 'long enough' })).user.username, 'after')
  assert.equal(unhandled, 0)
})
