'use strict'
// One app process of `make bench-scale` (bench/scale/driver.js forks it with an IPC channel).
//   SCALE_MODE=rows    opens the server, prepares its sessions, then runs each row when the driver
//                      says so (all processes start a row at the same wall-clock time) and reports it.
//   SCALE_MODE=growth  imports users into one database in steps and measures resumeSession and login
//                      at each size ("what the cost grows with").
// SCALE_TARGET: ours (accounts-rs, SQLite or PostgreSQL URL in SCALE_URL) or js-typeorm (accounts-js
// 0.33 on @accounts/typeorm + pg).
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { userIndex, userName, PASSWORD, SECRET } = require('./users')

const TARGET = process.env.SCALE_TARGET
const URL = process.env.SCALE_URL
const INDEX = Number(process.env.SCALE_INDEX || 0)
const JS = path.join(__dirname, '..', 'js', 'node_modules')

async function makeTarget() {
  if (TARGET === 'ours') {
    const { AccountsServer } = require('../../bindings/node')
    const options = { db: URL, tokenSecret: SECRET }
    if (process.env.SCALE_POOL) options.dbPoolSize = Number(process.env.SCALE_POOL)
    const server = new AccountsServer(options)
    return { server, password: server.getServices().password, loginWithUser: (user) => server.loginWithUser(user) }
  }
  if (TARGET === 'js-typeorm') {
    require(path.join(JS, 'reflect-metadata'))
    const typeorm = require(path.join(JS, 'typeorm'))
    const { AccountsTypeorm, entities } = require(path.join(JS, '@accounts/typeorm'))
    const { AccountsServer } = require(path.join(JS, '@accounts/server'))
    const { AccountsPassword } = require(path.join(JS, '@accounts/password'))
    // The driver created the schema (TypeORM's synchronize) before the import; processes only connect.
    const connection = await typeorm.createConnection({ type: 'postgres', url: URL, entities, synchronize: false, logging: false })
    const password = new AccountsPassword()
    const server = new AccountsServer({ db: new AccountsTypeorm({ connection }), tokenSecret: SECRET }, { password })
    return { server, password, loginWithUser: (user) => server.loginWithUser(user, {}) }
  }
  throw new Error(`unknown target ${TARGET}`)
}

function stats(lat, wallS) {
  lat.sort((a, b) => a - b)
  const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] : null)
  return { n: lat.length, wall_s: wallS, ops_per_s: lat.length / wallS, p50_ms: pct(0.5), p99_ms: pct(0.99) }
}

/** How many operations a worker runs back to back before it lets the event loop turn (as bench/node/bench.js). */
const YIELD_EVERY = 8

/**
 * Runs `op(worker)` from `concurrency` workers until `seconds` are up or `op` returns false; a
 * failed call is counted (with its code), not timed.
 */
async function runRow(concurrency, seconds, op) {
  const lat = []
  const errors = {}
  const cpu = process.cpuUsage()
  const start = performance.now()
  const end = start + seconds * 1000
  const worker = async (w) => {
    while (performance.now() < end) {
      const t = performance.now()
      try {
        if ((await op(w)) === false) return
        lat.push(performance.now() - t)
      } catch (e) {
        const code = e.code || e.name || 'Error'
        errors[code] = (errors[code] || 0) + 1
      }
      if ((lat.length + 1) % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)))
  const wall = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  return { ...stats(lat, wall), errors, node_cpu_s: (used.user + used.system) / 1e6 }
}

/** Runs `fn(i)` for i in 0..n with `inFlight` calls at once; returns the results in order. */
async function parallel(n, inFlight, fn) {
  const out = new Array(n)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(n, inFlight) }, async () => {
      while (next < n) {
        const i = next++
        out[i] = await fn(i)
      }
    }),
  )
  return out
}

/** The users (found by username) with the given table positions. */
async function usersAt(t, indexes) {
  return parallel(indexes.length, 16, async (i) => {
    const user = await t.password.findUserByUsername(userName(indexes[i]))
    if (!user) throw new Error(`bench user ${userName(indexes[i])} is missing`)
    return user
  })
}

/** `n` sessions spread round-robin over `users`. */
async function sessionsFor(t, users, n, inFlight = 32) {
  return parallel(n, inFlight, async (i) => (await t.loginWithUser(users[i % users.length])).tokens)
}

const loginParams = (i) => ({ user: { username: userName(i) }, password: PASSWORD })

// ---- rows mode ----

async function rowsMode() {
  const users = Number(process.env.SCALE_USERS)
  const processes = Number(process.env.SCALE_PROCESSES)
  const inFlight = Number(process.env.SCALE_IN_FLIGHT || 64)
  const seconds = Number(process.env.SCALE_SECONDS || 3)
  const logoutPool = Math.ceil(Number(process.env.SCALE_LOGOUT_SESSIONS) / processes)
  const t0 = performance.now()
  const t = await makeTarget()
  const openMs = performance.now() - t0
  // Each process gets its own users, spread over the whole table: 8 that log in, 64 per session row.
  let slot = INDEX * 1000
  const take = (n) => Array.from({ length: n }, () => userIndex(slot++, users))
  const loginUsers = take(8)
  const [resumeUsers, refreshUsers, logoutUsers] = [take(inFlight), take(inFlight), take(inFlight)]
  // A first login rehashes an imported bcrypt hash to argon2id (ours); the row measures the ones after.
  await parallel(loginUsers.length, 2, (i) => t.server.loginWithService('password', loginParams(loginUsers[i]), {}))
  const resume = await sessionsFor(t, await usersAt(t, resumeUsers), inFlight)
  const chains = await sessionsFor(t, await usersAt(t, refreshUsers), inFlight)
  const pool = await sessionsFor(t, await usersAt(t, logoutUsers), logoutPool)
  const setupS = (performance.now() - t0) / 1000
  let login = 0
  const rows = {
    'loginWithService(password)': () => t.server.loginWithService('password', loginParams(loginUsers[login++ % loginUsers.length]), {}),
    resumeSession: (w) => t.server.resumeSession(resume[w].accessToken),
    refreshTokens: async (w) => {
      chains[w] = (await t.server.refreshTokens(chains[w].accessToken, chains[w].refreshToken, {})).tokens
    },
    logout: async () => {
      const s = pool.pop()
      if (!s) return false
      await t.server.logout(s.accessToken)
    },
  }
  process.on('message', async (m) => {
    if (m.type === 'exit') process.exit(0)
    if (m.type !== 'row') return
    await new Promise((r) => setTimeout(r, Math.max(0, m.at - Date.now())))
    const result = await runRow(inFlight, seconds, rows[m.row])
    if (m.row === 'logout') result.pool_left = pool.length
    process.send({ type: 'done', row: m.row, result })
  })
  process.send({ type: 'ready', open_ms: openMs, setup_s: setupS })
}

// ---- growth mode ----

/** accounts-js `@accounts/mongo` user documents (what importUsers takes), one bcrypt hash for all. */
function records(from, to, hash) {
  const out = []
  for (let i = from; i < to; i++) {
    out.push({
      _id: { $oid: i.toString(16).padStart(24, '0') },
      username: userName(i),
      emails: [{ address: `${userName(i)}@example.com`, verified: true }],
      services: { password: { bcrypt: hash } },
      createdAt: { $date: '2024-01-01T00:00:00.000Z' },
    })
  }
  return out
}

async function growthMode() {
  const sizes = process.env.SCALE_SIZES.split(',').map(Number)
  const hash = process.env.SCALE_BCRYPT_HASH
  const batch = 1000
  const importInFlight = Number(process.env.SCALE_IMPORT_IN_FLIGHT || 2)
  const t = await makeTarget()
  let have = 0
  let importS = 0
  let slot = 500000 // users of their own, apart from the rows' (worker indexes x 1000)
  for (const size of sizes) {
    const start = performance.now()
    const batches = []
    for (let i = have; i < size; i += batch) batches.push([i, Math.min(size, i + batch)])
    await parallel(batches.length, importInFlight, async (b) => {
      const report = await t.server.importUsers(records(batches[b][0], batches[b][1], hash))
      if (report.imported !== batches[b][1] - batches[b][0]) throw new Error(`import: ${JSON.stringify(report).slice(0, 300)}`)
    })
    const stepS = (performance.now() - start) / 1000
    importS += stepS
    const imported = size - have
    have = size
    // resumeSession: 16 sessions of users spread over the table, one caller.
    const take = (n) => Array.from({ length: n }, () => userIndex(slot++, size))
    const sessions = await sessionsFor(t, await usersAt(t, take(16)), 16, 4)
    let k = 0
    const resume = await runRow(1, Number(process.env.SCALE_GROWTH_SECONDS || 1), () => t.server.resumeSession(sessions[k++ % 16].accessToken))
    // login: 8 users spread over the table; the first login of each rehashes bcrypt to argon2id.
    const loginUsers = take(8)
    let f = 0
    const first = await runRow(1, 600, () => (f < 8 ? t.server.loginWithService('password', loginParams(loginUsers[f++]), {}) : false))
    let l = 0
    const login = await runRow(1, 600, () => (l < 24 ? t.server.loginWithService('password', loginParams(loginUsers[l++ % 8]), {}) : false))
    process.send({
      type: 'growth',
      result: { users: size, imported, import_s: stepS, import_users_per_s: imported / stepS, import_total_s: importS, resume, first_login: first, login },
    })
  }
}

;(process.env.SCALE_MODE === 'growth' ? growthMode() : rowsMode()).then(
  () => process.env.SCALE_MODE === 'growth' && process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  },
)
