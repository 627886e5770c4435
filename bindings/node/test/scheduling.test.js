'use strict'
// Every method runs where core's operation table (core/src/operations.rs) puts it: the `hashing`
// ones on the addon's own hashing pool, never on the libuv pool, so a burst of argon2 work never
// queues the fast operations (docs/architecture.md, "Bindings"). Checked by order, not by timing:
// the hashing pool is a FIFO queue with as many threads as the server lets hash at once (2 here),
// so a call queued behind N slow createUser calls cannot settle before N - 2 of them have, while a
// libuv pool call does not wait for them at all. (The p99 of a pool call during such a burst is a
// row of the benchmark: bench/node/bench.js.)
const test = require('node:test')
const assert = require('node:assert/strict')
const native = require('../accounts.node')
const { AccountsServer, verifyAccessToken, isAccountsError } = require('..')
const { SECRET, FAST, fileDb } = require('../test-support/helpers.js')

const CLASSES = new Map(native.operationClasses())
// Slow enough that a queue of them lasts far longer than a pool call (a few ms each), two at once.
const SLOW = { password: { hashing: { memoryKib: 16384, iterations: 2, parallelism: 1 }, maxConcurrentHashes: 2 } }

// A database file: its readers never wait for the writer the createUser calls keep busy.
function server() {
  return new AccountsServer({ db: fileDb(null, 'scheduling-'), tokenSecret: SECRET, services: SLOW })
}

// Each hashing method, called so that it settles (resolved or with a coded error) on its own.
const HASHING_CALLS = {
  createUser: (s) => s.getServices().password.createUser({ username: 'hashing-call', password: 'a password' }),
  authenticate: (s) => s.getServices().password.authenticate({ user: 'nobody', password: 'a password' }),
  setPassword: (s) => s.getServices().password.setPassword('no-such-user', 'a new password'),
  changePassword: (s) => s.getServices().password.changePassword('no-such-user', 'a password', 'a new password'),
  resetPassword: (s) => s.getServices().password.resetPassword('no-such-token', 'a new password'),
  loginWithService: (s) => s.loginWithService('password', { user: 'nobody', password: 'a password' }),
  authenticateWithService: (s) => s.authenticateWithService('password', { user: 'nobody', password: 'a password' }),
  // The web edge: a login route hashes like loginWithService.
  handleHttp: (s) =>
    s.handleHttp({ method: 'POST', path: '/password/authenticate', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'nobody', password: 'a password' }) }),
}

/** Starts `n` createUser calls; `settled()` says how many have settled so far. */
function burst(s, n, prefix) {
  let settled = 0
  const all = Array.from({ length: n }, (_, i) =>
    s.getServices().password.createUser({ username: `${prefix}${i}`, password: 'a password' }).finally(() => settled++),
  )
  return { all: Promise.allSettled(all), settled: () => settled }
}

test('the table classes every Node method; this file calls each hashing one', () => {
  const hashing = [...CLASSES].filter(([, c]) => c === 'hashing').map(([name]) => name)
  assert.deepEqual(hashing.sort(), Object.keys(HASHING_CALLS).sort())
  assert.equal(CLASSES.get('isSet'), 'pool')
  for (const c of CLASSES.values()) assert.ok(['hashing', 'inline', 'pool', 'synchronous'].includes(c), c)
})

test('64 concurrent createUser calls do not hold up a pool call', async () => {
  const s = server()
  const id = await s.getServices().password.createUser({ username: 'probe' })
  const b = burst(s, 64, 'burst')
  // 20 pool calls one after another, all answered while the burst is still hashing.
  for (let i = 0; i < 20; i++) assert.equal(await s.getServices().password.twoFactor.isSet(id), false)
  const whenAnswered = b.settled()
  const results = await b.all
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 64)
  assert.ok(whenAnswered < 32, `the pool calls waited for ${whenAnswered} of 64 hashing calls`)
})

for (const [name, call] of Object.entries(HASHING_CALLS)) {
  test(`${name} queues on the hashing pool, behind earlier hashing calls`, async () => {
    const s = server()
    const id = await s.getServices().password.createUser({ username: 'probe' })
    const b = burst(s, 16, `before${name}`)
    let seenBehind = -1
    const target = call(s).then(
      () => (seenBehind = b.settled()),
      () => (seenBehind = b.settled()),
    )
    // A pool call started after it answers before it.
    assert.equal(await s.getServices().password.twoFactor.isSet(id), false)
    assert.equal(seenBehind, -1, `${name} settled before a pool call started after it`)
    await target
    // FIFO with two threads: it started only after all 16 had started, so at least 14 had finished (8: their promises may settle in any order).
    assert.ok(seenBehind >= 8, `${name} settled when only ${seenBehind} of the 16 earlier hashing calls had`)
    assert.ok((await b.all).every((r) => r.status === 'fulfilled'))
  })
}

// Every method, called once so that it reaches the core (resolved or with a coded error): the
// addon's self-test probe (`selfTestRuns`) says which thread ran each core call.
const EVERY_CALL = {
  loginWithService: (c) => c.s.loginWithService('password', { user: 'nobody', password: 'a password' }),
  authenticateWithService: (c) => c.s.authenticateWithService('password', { user: 'nobody', password: 'a password' }),
  loginWithUser: async (c) => (c.login = await c.s.loginWithUser(c.id)),
  resumeSession: (c) => c.s.resumeSession(c.login.tokens.accessToken),
  refreshTokens: async (c) => (c.login = await c.s.refreshTokens(c.login.tokens.accessToken, c.login.tokens.refreshToken)),
  impersonate: (c) => c.s.impersonate(c.login.tokens.accessToken, { userId: c.id }),
  findUserById: (c) => c.s.findUserById(c.id),
  findSessionByAccessToken: (c) => c.s.findSessionByAccessToken(c.login.tokens.accessToken),
  listSessions: (c) => c.s.listSessions(c.id),
  logout: (c) => c.s.logout(c.login.tokens.accessToken),
  deactivateUser: (c) => c.s.deactivateUser('no-such-user'),
  activateUser: (c) => c.s.activateUser('no-such-user'),
  revokeSession: (c) => c.s.revokeSession('no-such-session'),
  revokeAllSessions: (c) => c.s.revokeAllSessions(c.id),
  importUsers: (c) => c.s.importUsers([]),
  purgeExpired: (c) => c.s.purgeExpired(),
  resealAll: (c) => c.s.resealAll(),
  getJwks: (c) => c.s.getJwks(),
  setKeys: (c) => c.s.setKeys({ current: 'missing', keys: [] }),
  handleHttp: (c) => c.s.handleHttp({ method: 'GET', path: '/no-such-route', headers: {} }),
  httpUser: (c) => c.s.httpUser({ method: 'GET', path: '/app', headers: {} }),
  createUser: (c) => c.password.createUser({ username: 'every-call', password: 'a password' }),
  authenticate: (c) => c.password.authenticate({ user: 'nobody', password: 'a password' }),
  findUserByEmail: (c) => c.password.findUserByEmail('nobody@example.com'),
  findUserByUsername: (c) => c.password.findUserByUsername('nobody'),
  setPassword: (c) => c.password.setPassword('no-such-user', 'a new password'),
  addEmail: (c) => c.password.addEmail('no-such-user', 'added@example.com'),
  removeEmail: (c) => c.password.removeEmail('no-such-user', 'added@example.com'),
  sendVerificationEmail: (c) => c.password.sendVerificationEmail('nobody@example.com'),
  verifyEmail: (c) => c.password.verifyEmail('no-such-token'),
  sendResetPasswordEmail: (c) => c.password.sendResetPasswordEmail('nobody@example.com'),
  sendEnrollmentEmail: (c) => c.password.sendEnrollmentEmail('nobody@example.com'),
  resetPassword: (c) => c.password.resetPassword('no-such-token', 'a new password'),
  changePassword: (c) => c.password.changePassword('no-such-user', 'a password', 'a new password'),
  getNewAuthSecret: (c) => c.password.twoFactor.getNewAuthSecret(),
  set: (c) => c.password.twoFactor.set(c.id, 'JBSWY3DPEHPK3PXP', '000000'),
  unset: (c) => c.password.twoFactor.unset(c.id, '000000'),
  regenerateRecoveryCodes: (c) => c.password.twoFactor.regenerateRecoveryCodes(c.id, '000000'),
  isSet: (c) => c.password.twoFactor.isSet(c.id),
  requestMagicLinkEmail: (c) => c.s.getServices().magicLink.requestMagicLinkEmail('nobody@example.com'),
  authorizationUrl: (c) => c.oauth.authorizationUrl('corp'),
  checkProviders: (c) => c.oauth.checkProviders(),
  linkAccount: (c) => c.oauth.linkAccount(c.id, 'corp', { token: 'x' }),
  unlinkAccount: (c) => c.oauth.unlinkAccount(c.id, 'corp'),
  listLinkedAccounts: (c) => c.oauth.listLinkedAccounts(c.id),
  providerTokens: (c) => c.oauth.providerTokens(c.id, 'corp'),
  registrationOptions: (c) => c.webauthn.registrationOptions(c.id),
  register: (c) => c.webauthn.register(c.id, { id: 'not-a-credential' }),
  authenticationOptions: (c) => c.webauthn.authenticationOptions(),
  listPasskeys: (c) => c.webauthn.listPasskeys(c.id),
  renamePasskey: (c) => c.webauthn.renamePasskey(c.id, 'no-such-passkey', 'name'),
  removePasskey: (c) => c.webauthn.removePasskey(c.id, 'no-such-passkey'),
  verifyAccessToken: () => verifyAccessToken('not-a-token', { secret: SECRET, algorithm: 'HS256' }),
}

// Where the table lets each class run: the JS thread, the addon's hashing pool, the libuv pool.
const ALLOWED = { hashing: ['hashing'], pool: ['libuv'], inline: ['js', 'libuv'], synchronous: ['js'] }

test('every Node method runs its core call on the thread its class in the table gives', async (t) => {
  assert.deepEqual(Object.keys(EVERY_CALL).sort(), [...CLASSES.keys()].sort(), 'one call per row of the table')
  const s = new AccountsServer({
    db: fileDb(t, 'scheduling-'),
    tokenSecret: SECRET,
    services: {
      ...FAST,
      oauth: { providers: { corp: { type: 'host' } } },
      webauthn: { rpId: 'app.example', rpName: 'Example', origins: ['https://app.example'] },
    },
    sendMail: () => {},
  })
  const c = { s, password: s.getServices().password, oauth: s.getServices().oauth, webauthn: s.getServices().webauthn }
  c.id = await c.password.createUser({ username: 'every', password: 'a password' })
  native.selfTestRuns() // drop the setup's runs
  for (const [name, call] of Object.entries(EVERY_CALL)) {
    try {
      await call(c)
    } catch (e) {
      assert.ok(isAccountsError(e), `${name}: ${e}`) // a coded error: the call reached the core
    }
    const runs = native.selfTestRuns()
    assert.ok(runs.length > 0, `${name} reached no core call`)
    for (const [op, place] of runs) {
      assert.equal(op, name)
      assert.ok(ALLOWED[CLASSES.get(name)].includes(place), `${name} (${CLASSES.get(name)}) ran on ${place}`)
    }
  }
})

test('a pool call completes while every hashing thread is held by a createUser', { timeout: 120_000 }, async (t) => {
  // validatePassword runs inside createUser on its thread: while it is pending, that thread is
  // held. Were createUser on the libuv pool, 64 of them would hold all its threads and the pool
  // call below could not run until they were released (hostCallbackTimeout is 10 minutes).
  let release
  const gate = new Promise((resolve) => (release = resolve))
  let holding = false
  const s = new AccountsServer({
    db: fileDb(t, 'scheduling-'),
    tokenSecret: SECRET,
    services: { ...FAST, password: { ...FAST.password, maxConcurrentHashes: 2 } },
    hostCallbackTimeout: '10m',
    validatePassword: async () => (holding ? gate.then(() => true) : true),
  })
  const password = s.getServices().password
  const id = await password.createUser({ username: 'probe', password: 'a password' })
  holding = true
  native.selfTestRuns()
  let settled = 0
  const all = Array.from({ length: 64 }, (_, i) => password.createUser({ username: `held${i}`, password: 'a password' }).finally(() => settled++))
  assert.equal(await password.twoFactor.isSet(id), false)
  assert.equal(settled, 0, 'the pool call waited for hashing calls')
  release()
  assert.equal((await Promise.allSettled(all)).filter((r) => r.status === 'fulfilled').length, 64)
  const runs = native.selfTestRuns()
  assert.deepEqual(new Set(runs.filter(([op]) => op === 'createUser').map(([, place]) => place)), new Set(['hashing']))
  assert.deepEqual(new Set(runs.filter(([op]) => op === 'isSet').map(([, place]) => place)), new Set(['libuv']))
})

test('while bcrypt hashes are stored, a hashing call waiting with no permit held does not keep the next one from hashing', { timeout: 120_000 }, async (t) => {
  // One hash at a time. Once an accounts-js user with a bcrypt hash is imported, logins take the
  // timing floor (a wait with no permit held) and core's hashing_threads asks for more threads
  // than hashes. Here a createUser held in validatePassword (before it hashes) stands for such a
  // wait: the next createUser still runs. With one thread per hash it queued behind the callback.
  let release
  const gate = new Promise((resolve) => (release = resolve))
  const s = new AccountsServer({
    db: fileDb(t, 'scheduling-'),
    tokenSecret: SECRET,
    services: { ...FAST, password: { ...FAST.password, maxConcurrentHashes: 1 } },
    hostCallbackTimeout: '10m',
    validatePassword: async (password) => (password === 'held at the gate' ? gate.then(() => true) : true),
  })
  const imported = { _id: 'imported1', username: 'imported', services: { password: { bcrypt: '$2a$08$20hOMUj71c4HMsVeIUMp3ujuD.dGdmhuBOvmlzAuTQfPvH3yO.N5y' } } }
  assert.deepEqual(await s.importUsers([imported]), { imported: 1, skipped: 0, failed: [] })
  const password = s.getServices().password
  const held = password.createUser({ username: 'held', password: 'held at the gate' })
  let timer
  const stuck = new Promise((resolve) => (timer = setTimeout(() => resolve('stuck'), 30_000)))
  const free = await Promise.race([password.createUser({ username: 'free', password: 'a password' }), stuck])
  clearTimeout(timer)
  assert.notEqual(free, 'stuck', "the second createUser waited for the first one's callback")
  assert.equal((await s.findUserById(free)).username, 'free')
  release()
  assert.equal((await s.findUserById(await held)).username, 'held')
  // The imported user logs in with the password accounts-js hashed.
  const login = await s.loginWithService('password', { user: { username: 'imported' }, password: 'an imported password' })
  assert.equal(login.user.id, 'imported1')
})
