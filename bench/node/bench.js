'use strict'
// Node side of `make bench`: the same operations through accounts-rs (SQLite file, WAL) and through
// accounts-js 0.33 (its best case, an in-memory adapter, and the official TypeORM adapter on SQLite).
//   node bench/node/bench.js <ours|js-memory|js-typeorm> [rss|sessions]
//   node bench/node/bench.js <ours-pg|js-typeorm-pg> <pg|setup>  (BENCH_PG_URL; BENCH_PROCESSES/BENCH_PROCESS_INDEX
//                                                         when run.sh starts two at once on one database)
// Prints one JSON object per row. BENCH_SECONDS (default 2) bounds each row.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')

const TARGET = process.argv[2]
const PART = process.argv[3] || 'ops'
const SECONDS = Number(process.env.BENCH_SECONDS || 2)
const SMOKE = SECONDS < 0.5
const SECRET = 'bench-secret-0123456789abcdef-0123456789abcdef'
const PASSWORD = 'correct horse battery'
const JS = path.join(__dirname, '..', 'js', 'node_modules')

async function makeTarget(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `accounts-bench-${name}-`))
  if (name === 'ours') {
    const { AccountsServer } = require('../../bindings/node')
    const server = new AccountsServer({ db: `sqlite:${path.join(dir, 'bench.db')}`, tokenSecret: SECRET })
    return {
      server,
      password: server.getServices().password,
      hash: 'argon2id m=19456 t=2 p=1',
      store: 'SQLite file (WAL)',
      loginWithUser: (user) => server.loginWithUser(user),
    }
  }
  if (name === 'ours-pg') {
    const { AccountsServer } = require('../../bindings/node')
    const server = new AccountsServer({ db: process.env.BENCH_PG_URL, dbPoolSize: 16, tokenSecret: SECRET })
    return {
      server,
      password: server.getServices().password,
      hash: 'argon2id m=19456 t=2 p=1',
      store: 'PostgreSQL (pool of 16)',
      loginWithUser: (user) => server.loginWithUser(user),
    }
  }
  const { AccountsServer } = require(path.join(JS, '@accounts/server'))
  const { AccountsPassword } = require(path.join(JS, '@accounts/password'))
  let db
  let store
  if (name === 'js-memory') {
    const { MemoryDb } = require('./memory-db')
    db = new MemoryDb()
    store = 'in-memory adapter (bench/node/memory-db.js)'
  } else if (name === 'js-typeorm') {
    require(path.join(JS, 'reflect-metadata'))
    const typeorm = require(path.join(JS, 'typeorm'))
    const { AccountsTypeorm, entities } = require(path.join(JS, '@accounts/typeorm'))
    // The adapter declares one `jsonb` column (UserService.options), which SQLite lacks; map it to
    // TypeORM's portable JSON text type. Nothing else about the adapter is changed.
    for (const c of typeorm.getMetadataArgsStorage().columns) {
      if (c.options && c.options.type === 'jsonb') c.options.type = 'simple-json'
    }
    const connection = await typeorm.createConnection({
      type: 'better-sqlite3',
      database: path.join(dir, 'bench.db'),
      entities,
      synchronize: true,
      logging: false,
    })
    db = new AccountsTypeorm({ connection })
    store = 'official @accounts/typeorm 0.27 on SQLite file (better-sqlite3 12)'
  } else if (name === 'js-typeorm-pg') {
    require(path.join(JS, 'reflect-metadata'))
    const typeorm = require(path.join(JS, 'typeorm'))
    const { AccountsTypeorm, entities } = require(path.join(JS, '@accounts/typeorm'))
    const connection = await typeorm.createConnection({ type: 'postgres', url: process.env.BENCH_PG_URL, entities, synchronize: true, logging: false })
    db = new AccountsTypeorm({ connection })
    store = 'official @accounts/typeorm 0.27 on PostgreSQL (pg 8)'
  } else {
    throw new Error(`unknown target ${name}`)
  }
  const password = new AccountsPassword()
  const server = new AccountsServer({ db, tokenSecret: SECRET }, { password })
  return { server, password, hash: 'bcryptjs cost 10', store, loginWithUser: (user) => server.loginWithUser(user, {}) }
}

function stats(lat, wallS) {
  lat.sort((a, b) => a - b)
  const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] : NaN)
  return { n: lat.length, ops_per_s: lat.length / wallS, p50_us: pct(0.5) * 1000, p99_us: pct(0.99) * 1000 }
}

/**
 * Event-loop delay: how late a 1 ms timer fires. Unlike perf_hooks' monitor, the final pending
 * lateness counts too, so a loop kept busy for the whole row (e.g. by promise chains that never
 * yield to timers) shows as one huge delay instead of no samples.
 */
function loopProbe() {
  const samples = []
  let expected = performance.now() + 1
  let timer
  const tick = () => {
    const now = performance.now()
    samples.push(Math.max(0, now - expected))
    expected = now + 1
    timer = setTimeout(tick, 1)
  }
  timer = setTimeout(tick, 1)
  return () => {
    clearTimeout(timer)
    samples.push(Math.max(0, performance.now() - expected))
    samples.sort((a, b) => a - b)
    const p99 = samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.99))]
    return { loop_p99_ms: p99, loop_max_ms: samples[samples.length - 1], loop_samples: samples.length }
  }
}

/** How many operations a worker runs back to back before it lets the event loop turn. */
const YIELD_EVERY = 8

/**
 * Runs `op(worker, i)` from `concurrency` workers until the time is up or `op` returns false.
 * Every YIELD_EVERY operations a worker lets the event loop turn (setImmediate), as a server's
 * requests arrive through I/O: calls that answer within microtasks (an in-memory adapter, our
 * inline calls) would otherwise keep the loop busy for the whole row and the loop column would
 * only measure the benchmark.
 */
async function runRow(concurrency, op, seconds = SECONDS) {
  const stopProbe = loopProbe()
  const lat = []
  const start = performance.now()
  const end = start + seconds * 1000
  let i = 0
  const worker = async (w) => {
    while (performance.now() < end) {
      const t = performance.now()
      if ((await op(w, i++)) === false) return
      lat.push(performance.now() - t)
      if (lat.length % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)))
  const wall = (performance.now() - start) / 1000
  return { ...stats(lat, wall), ...stopProbe() }
}

function emit(t, row, concurrency, result, extra = {}) {
  console.log(JSON.stringify({ suite: 'node', target: TARGET, row, concurrency, hash: t.hash, store: t.store, ...result, ...extra }))
}

/** A bench user of target `t` named `name`, and a way to open `n` sessions for it. */
async function benchUser(t, name) {
  const id = await t.password.createUser({ username: name, email: `${name}@example.com`, password: PASSWORD })
  const user = await t.server.findUserById(id)
  const sessions = async (n) => {
    const out = []
    for (let i = 0; i < n; i++) out.push((await t.loginWithUser(user)).tokens)
    return out
  }
  return { id, loginParams: { user: { username: name }, password: PASSWORD }, sessions }
}

/** The per-request rows at `c` in flight: resumeSession, refreshTokens and logout (from `poolSize` sessions). */
async function sessionRows(t, u, c, poolSize, put) {
  const { server } = t
  const own = await u.sessions(c)
  put('resumeSession', c, await runRow(c, (w) => server.resumeSession(own[w].accessToken)))
  if (TARGET === 'ours' && c === 1) {
    put('resumeSessionSync', c, await runRow(c, async (w) => server.resumeSessionSync(own[w].accessToken)))
  }
  const chains = await u.sessions(c)
  put(
    'refreshTokens',
    c,
    await runRow(c, async (w) => {
      const r = await server.refreshTokens(chains[w].accessToken, chains[w].refreshToken, {})
      chains[w] = r.tokens
    }),
  )
  const pool = await u.sessions(SMOKE ? 50 : poolSize)
  put(
    'logout',
    c,
    await runRow(c, async () => {
      const s = pool.pop()
      if (!s) return false
      await server.logout(s.accessToken)
    }),
    { pool_left: pool.length },
  )
}

/**
 * PostgreSQL rows (`pg` part): the per-request operations at 1 and 64 in flight. With
 * BENCH_PROCESSES=2, run.sh starts two of these at once on one database (rows are time-bounded, so
 * they stay in step); report.py adds their ops/s.
 */
async function pgOps() {
  const processes = Number(process.env.BENCH_PROCESSES || 1)
  const index = Number(process.env.BENCH_PROCESS_INDEX || 0)
  const t = await makeTarget(TARGET)
  const u = await benchUser(t, `pg${index}x${process.pid}`)
  const put = (row, c, result, extra = {}) =>
    console.log(JSON.stringify({ suite: 'node-pg', target: TARGET, row, concurrency: c, processes, process_index: index, store: t.store, ...result, ...extra }))
  for (const c of [1, 64]) {
    put('loginWithService(password)', c, await runRow(c, () => t.server.loginWithService('password', u.loginParams, {})))
    await sessionRows(t, u, c, TARGET === 'js-typeorm-pg' ? 1000 : 4000, put)
  }
}

async function ops() {
  const t = await makeTarget(TARGET)
  const { server, password } = t
  const u = await benchUser(t, 'bench')
  const put = (row, c, result, extra) => emit(t, row, c, result, extra)
  let created = 0
  for (const c of [1, 64]) {
    emit(t, 'createUser', c, await runRow(c, () => password.createUser({ username: `c${created}`, email: `c${created++}@example.com`, password: PASSWORD })))
    emit(t, 'loginWithService(password)', c, await runRow(c, () => server.loginWithService('password', u.loginParams, {})))
    await sessionRows(t, u, c, TARGET === 'js-typeorm' ? 300 : 20000, put)
    emit(t, 'findUserById', c, await runRow(c, () => server.findUserById(u.id)))
  }

  // resumeSession latency while 64 logins are in flight.
  const [mine] = await u.sessions(1)
  let stop = false
  const loginLoad = Array.from({ length: 64 }, async () => {
    while (!stop) await server.loginWithService('password', u.loginParams, {})
  })
  await new Promise((r) => setTimeout(r, 100))
  const underLoad = await runRow(1, () => server.resumeSession(mine.accessToken))
  stop = true
  await Promise.all(loginLoad)
  emit(t, 'resumeSession while 64 logins are in flight', 1, underLoad)

  // A libuv-pool call (class `pool` in core's operation table: twoFactor.isSet) while 64 createUser
  // calls hash on the hashing pool (issue #29: its p99 should stay under 5 ms on 2 cores).
  if (TARGET === 'ours') {
    let stopCreates = false
    let n = 0
    const createLoad = Array.from({ length: 64 }, async () => {
      while (!stopCreates) await password.createUser({ username: `load${n}`, email: `load${n++}@example.com`, password: PASSWORD })
    })
    await new Promise((r) => setTimeout(r, 100))
    const poolUnderLoad = await runRow(1, async () => {
      await password.twoFactor.isSet(u.id)
    })
    stopCreates = true
    await Promise.all(createLoad)
    emit(t, 'twoFactor.isSet (pool) while 64 createUser are in flight', 1, poolUnderLoad)
  }
}

/** Only the per-request rows (`node bench/node/bench.js <target> sessions`): for quick comparisons. */
async function sessionsOnly() {
  const t = await makeTarget(TARGET)
  const u = await benchUser(t, 'bench')
  for (const c of [1, 64]) await sessionRows(t, u, c, 20000, (row, c, result, extra) => emit(t, row, c, result, extra))
}

async function rss() {
  const t = await makeTarget(TARGET)
  await t.password.createUser({ username: 'bench', email: 'bench@example.com', password: PASSWORD })
  const before = process.resourceUsage().maxRSS
  const start = performance.now()
  const n = Number(process.env.BENCH_RSS_LOGINS || 1000)
  await Promise.all(Array.from({ length: n }, () => t.server.loginWithService('password', { user: { username: 'bench' }, password: PASSWORD }, {})))
  emit(t, `peak RSS, ${n} concurrent logins`, n, {
    peak_rss_mib: process.resourceUsage().maxRSS / 1024,
    rss_before_mib: before / 1024,
    wall_s: (performance.now() - start) / 1000,
  })
}

;(PART === 'rss' ? rss() : PART === 'sessions' ? sessionsOnly() : PART === 'pg' ? pgOps() : PART === 'setup' ? makeTarget(TARGET) : ops()).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  },
)
