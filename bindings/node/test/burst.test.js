'use strict'
// Resource bounds (docs/reliability.md, "Bounds"): a burst of 10 000 concurrent logins is answered
// in full, while the hashing pool keeps at most `maxConcurrentHashes` argon2 memories alive, so
// the process's memory stays bounded however many callers wait.
const test = require('node:test')
const assert = require('node:assert/strict')
const { AccountsServer } = require('..')
const { fileDb } = require('../test-support/helpers')

const BURST = 10000

test('10 000 concurrent logins: every caller answered, memory bounded', async (t) => {
  const s = new AccountsServer({
    db: fileDb(t, 'burst-'),
    tokenSecret: 'node-burst-secret-0123456789abcdef-012345',
    // 1 MiB per hash, at most 2 at once: 10 000 waiting logins may hold no more than 2 MiB of argon2 memory.
    services: { password: { hashing: { memoryKib: 1024, iterations: 1, parallelism: 1 }, maxConcurrentHashes: 2 } },
    attemptLimits: { password: { accountIp: { max: 0, window: 900 }, account: { max: 0, window: 900 }, ip: { max: 0, window: 900 } } },
  })
  const p = s.getServices().password
  for (let i = 0; i < 10; i++) await p.createUser({ username: `burst${i}`, password: 'a password' })
  global.gc?.()
  const base = process.memoryUsage().rss
  let peak = base
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20)
  const started = Date.now()
  const results = await Promise.allSettled(
    Array.from({ length: BURST }, (_, i) =>
      s.loginWithService('password', { user: `burst${i % 10}`, password: i % 10 === 9 ? 'wrong password' : 'a password' }),
    ),
  )
  clearInterval(sampler)
  peak = Math.max(peak, process.memoryUsage().rss)
  const ok = results.filter((r) => r.status === 'fulfilled').length
  const wrong = results.filter((r) => r.status === 'rejected' && r.reason.code === 'InvalidCredentials').length
  // Every caller answered, each as it should be: 9 in 10 logged in, 1 in 10 refused.
  assert.equal(ok, BURST * 0.9)
  assert.equal(wrong, BURST * 0.1)
  const grewMiB = (peak - base) / 1048576
  console.log(`burst: ${BURST} logins in ${Date.now() - started} ms, RSS +${grewMiB.toFixed(1)} MiB at peak`)
  // 10 000 pending promises and results cost some MiB; one argon2 memory per waiting caller would cost 10 GiB.
  assert.ok(grewMiB < 256, `RSS grew by ${grewMiB.toFixed(1)} MiB`)
})
