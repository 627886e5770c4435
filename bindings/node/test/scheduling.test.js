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
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const native = require('../accounts.node')
const { AccountsServer } = require('..')
const { SECRET } = require('../test-support/helpers.js')

const CLASSES = new Map(native.operationClasses())
// Slow enough that a queue of them lasts far longer than a pool call (a few ms each), two at once.
const SLOW = { password: { hashing: { memoryKib: 16384, iterations: 2, parallelism: 1 }, maxConcurrentHashes: 2 } }

// A database file: its readers never wait for the writer the createUser calls keep busy.
function server() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scheduling-'))
  return new AccountsServer({ db: `sqlite:${path.join(dir, 'accounts.db')}`, tokenSecret: SECRET, services: SLOW })
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
