'use strict'
// Inline calls (docs/architecture.md, "Inline calls"): on SQLite, reads, refreshTokens and logout
// with no JS hook to run answer on the calling thread — their promise settles within microtasks,
// before the event loop could deliver any thread-pool result —, see committed writes at once and
// keep their error codes; a call with a hook, other writes and PostgreSQL go through the pool.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { spawn } = require('node:child_process')
const { once } = require('node:events')
const native = require('../accounts.node')
const { AccountsServer, isAccountsError } = require('..')

const { SECRET, FAST, fileServer } = require('../test-support/helpers')

/** Whether `promise` settles without the event loop turning (only microtasks run meanwhile). */
async function settlesInline(promise) {
  let settled = false
  promise.then(
    () => (settled = true),
    () => (settled = true),
  )
  for (let i = 0; i < 10; i++) await null
  const inline = settled
  await promise.catch(() => {})
  return inline
}

test('reads answer inline on SQLite and see writes at once', async (t) => {
  const s = fileServer(t)
  const p = s.getServices().password
  const id = await p.createUser({ username: 'ada', email: 'ada@example.com', password: 'a password' })
  const login = await s.loginWithUser(id)
  const token = login.tokens.accessToken
  assert.equal(await settlesInline(s.resumeSession(token)), true)
  assert.equal((await s.resumeSession(token)).id, id)
  for (const read of [s.findUserById(id), s.findSessionByAccessToken(token), s.listSessions(id), p.findUserByEmail('ada@example.com'), p.findUserByUsername('ada')]) {
    assert.equal(await settlesInline(read), true)
  }
  assert.equal((await p.findUserByEmail('ada@example.com')).id, id)
  assert.equal((await s.listSessions(id)).length, 1)
  // refreshTokens and logout write inline too; other writes go through the pool.
  const refreshed = s.refreshTokens(token, login.tokens.refreshToken)
  assert.equal(await settlesInline(refreshed), true)
  const second = await refreshed
  assert.equal(second.user.id, id)
  // Inside the reuse grace window the same successor comes back (concurrent refreshes never fork).
  assert.equal((await s.refreshTokens(token, login.tokens.refreshToken)).tokens.refreshToken, second.tokens.refreshToken)
  await assert.rejects(s.refreshTokens(token, 'not a token'), (e) => isAccountsError(e))
  const again = await s.loginWithUser(id)
  const token2 = again.tokens.accessToken
  assert.equal(await settlesInline(s.deactivateUser(id)), false)
  await assert.rejects(s.resumeSession(token), (e) => e.code === 'UserDeactivated')
  await s.activateUser(id)
  const out = s.logout(token2)
  assert.equal(await settlesInline(out), true)
  assert.equal(await out, undefined)
  await assert.rejects(s.logout(token2), (e) => e.code === 'InvalidSession' && isAccountsError(e))
  // The logout is seen by the very next inline read, with the same error code as on the pool.
  const after = s.resumeSession(token2)
  assert.equal(await settlesInline(after), true)
  await assert.rejects(after, (e) => e.code === 'InvalidSession')
  await assert.rejects(s.resumeSession('not a token'), (e) => e.code === 'TokenVerificationFailed' || e.code === 'InvalidToken')
  assert.equal(await s.findUserById('nobody'), null)
})

test('a read with a JS hook to run goes through the pool', async (t) => {
  let validated = 0
  const s = fileServer(t, {
    resumeSessionValidator: async () => {
      validated++
    },
  })
  const id = await s.getServices().password.createUser({ username: 'bob', password: 'a password' })
  const token = (await s.loginWithUser(id)).tokens.accessToken
  assert.equal(await settlesInline(s.resumeSession(token)), false)
  assert.equal(validated, 1, 'the validator ran (on the JS thread, from the pool)')
  assert.equal(await settlesInline(s.findUserById(id)), true, 'findUserById runs no resume hook')
  s.on('ResumeSessionSuccess', () => {})
  assert.equal(await settlesInline(s.resumeSession(token)), false)
  let loggedOut = 0
  s.on('LogoutSuccess', () => loggedOut++)
  assert.equal(await settlesInline(s.logout(token)), false, 'a LogoutSuccess listener to run')
  assert.equal(loggedOut, 1)
})

test('PostgreSQL reads go through the pool', { skip: !process.env.ACCOUNTS_TEST_PG_URL }, async () => {
  const s = new AccountsServer({ db: process.env.ACCOUNTS_TEST_PG_URL, tokenSecret: SECRET, services: FAST })
  assert.equal(await settlesInline(s.findUserById('nobody')), false)
})

// Holds SQLite's write lock on the database in argv[1] from another process until stdin closes.
const LOCKER = `
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute('BEGIN IMMEDIATE')
print('locked', flush=True)
sys.stdin.read()
c.execute('ROLLBACK')
`

test('a call refused inline waits on the pool and tries inline again before the pool runs it', async (t) => {
  const s = fileServer(t)
  const id = await s.getServices().password.createUser({ username: 'dee', password: 'a password' })
  const token = (await s.loginWithUser(id)).tokens.accessToken
  const db = s.getOptions().db.replace(/^sqlite:/, '')
  const locker = spawn('python3', ['-c', LOCKER, db], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.after(() => locker.kill())
  await new Promise((resolve, reject) => {
    locker.stdout.once('data', resolve)
    locker.once('error', reject)
  })
  native.selfTestRuns() // drop the setup's runs
  let settled = false
  const out = s.logout(token).finally(() => (settled = true))
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(settled, false, 'refused: another process holds the write lock')
  // While the lock is held: the first attempt and two retries on the JS thread, then the pool,
  // where the call waits for the lock (nothing is answered meanwhile, nothing is lost).
  assert.deepEqual(native.selfTestRuns().filter(([op]) => op === 'logout').map(([, place]) => place), ['js', 'js', 'js', 'libuv'])
  const exited = once(locker, 'exit')
  locker.stdin.end()
  assert.equal(await out, undefined)
  await exited
  await assert.rejects(s.resumeSession(token), (e) => e.code === 'InvalidSession')
  // With the lock gone, calls answer inline again.
  const again = (await s.loginWithUser(id)).tokens.accessToken
  assert.equal(await settlesInline(s.logout(again)), true)
})

test('inline writes leave the WAL checkpoint to the pool, and the WAL stays bounded', async (t) => {
  const s = fileServer(t)
  const id = await s.getServices().password.createUser({ username: 'cy', password: 'a password' })
  let tokens = (await s.loginWithUser(id)).tokens
  const db = s.getOptions().db.replace(/^sqlite:/, '')
  const before = fs.readFileSync(db)
  // Every 256 commits a checkpoint falls due: the pool runs it while refreshes go on inline.
  const rotations = 6000
  for (let i = 0; i < rotations; i++) {
    tokens = (await s.refreshTokens(tokens.accessToken, tokens.refreshToken)).tokens
    if (i % 50 === 0) await new Promise((r) => setImmediate(r)) // let the pool's results in
  }
  await new Promise((r) => setTimeout(r, 300))
  // In WAL mode only a checkpoint writes the database file itself.
  assert.notDeepEqual(fs.readFileSync(db), before, 'the checkpoint copied the sessions into the database file')
  // Checkpoints that catch up let the WAL start over; when writes never let them, one holds the
  // writer past ~4000 frames (~16 MiB). Never starting over, 6000 rotations take ~24 MiB.
  assert.ok(fs.statSync(`${db}-wal`).size < 20 * 1024 * 1024, 'the WAL is reused, not grown')
  assert.equal((await s.findSessionByAccessToken(tokens.accessToken)).refreshCount, rotations)
})
