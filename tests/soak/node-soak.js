'use strict'
// Soak through the Node package (docs/reliability.md, "Soak"): 64 in-flight promise chains of mixed
// createUser / login / resume / refresh / logout / reset for SOAK_SECS seconds on SOAK_DB, then
// every acknowledged user and session must be stored as acknowledged (refresh counts equal the
// refreshes acknowledged: no forked lineage; logged-out sessions invalid) and no call may have
// failed. Prints p50/p99 per operation and RSS after warm-up and at the end.
//   SOAK_DB=sqlite:/tmp/x.db SOAK_SECS=10 node tests/soak/node-soak.js
const path = require('node:path')
const fs = require('node:fs')
const os = require('node:os')
const { AccountsServer } = require(path.join(__dirname, '../../bindings/node'))

const CHAINS = 64
const secs = Number(process.env.SOAK_SECS || 10)
const db = process.env.SOAK_DB || `sqlite:${path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'soak-')), 'accounts.db')}`
const label = process.env.SOAK_LABEL || db.split(':')[0]

const links = new Map()
const server = new AccountsServer({
  db,
  dbPoolSize: 16,
  tokenSecret: 'node-soak-secret-0123456789abcdef-0123456',
  services: { password: { hashing: { memoryKib: 256, iterations: 1, parallelism: 1 } } },
  sendMail: async (mail) => {
    links.set(mail.to, mail.text.split('/').pop())
  },
})
const password = server.getServices().password

const latencies = new Map()
const errors = []
let ops = 0

async function timed(op, f) {
  const start = process.hrtime.bigint()
  try {
    return await f()
  } catch (e) {
    errors.push(`${op}: ${e.code || ''} ${e.message}`)
    return undefined
  } finally {
    ops++
    if (!latencies.has(op)) latencies.set(op, [])
    latencies.get(op).push(Number(process.hrtime.bigint() - start) / 1e6)
  }
}

async function chain(t, until) {
  const users = [] // [name, id]
  const sessions = new Map() // id -> {refreshes, loggedOut, userId}
  const live = [] // {name, sid, access, refresh}
  for (let i = 1; Date.now() < until; i++) {
    const step = i % 8
    if ((step === 0 || step === 1) && (users.length < 8 || i % 16 === 0)) {
      const name = `n${t}u${users.length}`
      const id = await timed('createUser', () => password.createUser({ username: name, email: `${name}@example.com`, password: 'a password' }))
      if (id) users.push([name, id])
    } else if (step <= 2) {
      if (!users.length) continue
      const [name, id] = users[i % users.length]
      const login = await timed('login', () => server.loginWithService('password', { user: name, password: 'a password' }))
      if (login) {
        sessions.set(login.sessionId, { refreshes: 0, loggedOut: false, userId: id })
        live.push({ name, sid: login.sessionId, access: login.tokens.accessToken, refresh: login.tokens.refreshToken })
      }
    } else if (step <= 4) {
      if (live.length) await timed('resume', () => server.resumeSession(live[live.length - 1].access))
    } else if (step <= 6) {
      const s = live.pop()
      if (!s) continue
      const next = await timed('refresh', () => server.refreshTokens(s.access, s.refresh))
      if (next) {
        sessions.get(s.sid).refreshes++
        live.push({ ...s, access: next.tokens.accessToken, refresh: next.tokens.refreshToken })
      }
    } else if (i % 24 === 7) {
      if (!users.length) continue
      const [name] = users[users.length - 1]
      const email = `${name}@example.com`
      await timed('sendResetPasswordEmail', () => password.sendResetPasswordEmail(email))
      await timed('resetPassword', () => password.resetPassword(links.get(email) || '', 'a password'))
      for (let k = live.length - 1; k >= 0; k--) if (live[k].name === name) live.splice(k, 1)
    } else {
      const s = live.pop()
      if (!s) continue
      const done = await timed('logout', () => server.logout(s.access).then(() => true))
      if (done) sessions.get(s.sid).loggedOut = true
    }
  }
  return { users, sessions }
}

function pct(sorted, p) {
  return sorted[Math.round((sorted.length - 1) * p)]
}

async function main() {
  const rssStart = process.memoryUsage().rss
  const until = Date.now() + secs * 1000
  let rssWarm = 0
  const warm = setTimeout(() => (rssWarm = process.memoryUsage().rss), (secs * 1000) / 4)
  const ledgers = await Promise.all(Array.from({ length: CHAINS }, (_, t) => chain(t, until)))
  clearTimeout(warm)
  const rssEnd = process.memoryUsage().rss
  const mib = (b) => (b / 1048576).toFixed(1)
  let report = `node soak ${label}: ${CHAINS} in-flight chains, ${secs} s, ${ops} operations, ${errors.length} errors, RSS ${mib(rssStart)} → ${mib(rssWarm)} (warm) → ${mib(rssEnd)} MiB\n`
  for (const op of [...latencies.keys()].sort()) {
    const d = latencies.get(op).sort((a, b) => a - b)
    report += `  ${op.padEnd(24)} n=${String(d.length).padEnd(7)} p50=${pct(d, 0.5).toFixed(2).padStart(7)} ms  p99=${pct(d, 0.99).toFixed(2).padStart(7)} ms\n`
  }
  process.stderr.write(report)
  if (process.env.SOAK_REPORT_DIR) {
    fs.mkdirSync(process.env.SOAK_REPORT_DIR, { recursive: true })
    fs.writeFileSync(path.join(process.env.SOAK_REPORT_DIR, `node-${label}.txt`), report)
  }
  if (errors.length) throw new Error(`unexpected errors: ${errors.slice(0, 10).join('; ')}`)

  let users = 0
  let sessions = 0
  for (const l of ledgers) {
    for (const [name, id] of l.users) {
      const u = await password.findUserByUsername(name)
      if (!u || u.id !== id) throw new Error(`user ${name} lost`)
      users++
    }
    const byUser = new Map()
    for (const [sid, want] of l.sessions) {
      if (!byUser.has(want.userId)) byUser.set(want.userId, await server.listSessions(want.userId))
      const got = byUser.get(want.userId).find((s) => s.id === sid)
      if (!got) throw new Error(`session ${sid} lost`)
      if (got.refreshCount !== want.refreshes) throw new Error(`session ${sid}: ${got.refreshCount} refreshes stored, ${want.refreshes} acknowledged`)
      if (want.loggedOut && got.valid) throw new Error(`session ${sid} was logged out but is valid`)
      sessions++
    }
  }
  if (users < CHAINS || sessions === 0) throw new Error(`the soak did too little: ${users} users, ${sessions} sessions`)
  // Memory: after warm-up the heap and the native side must not keep growing.
  if (rssWarm && rssEnd - rssWarm > 256 * 1048576) throw new Error(`RSS grew from ${mib(rssWarm)} to ${mib(rssEnd)} MiB`)
  console.log(`node soak ${label}: ok (${users} users, ${sessions} sessions verified)`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
