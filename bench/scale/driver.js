'use strict'
// `make bench-scale` (bench/scale/run.sh runs it next to tests/pg/with-postgres.sh's server):
//   1. what the cost grows with: resumeSession and login at BENCH_SCALE_SIZES users (imported with
//      importUsers, timed), on a SQLite file and on PostgreSQL;
//   2. the PostgreSQL database grown to the largest size then serves 1, 2, 5, 10 app processes
//      (BENCH_SCALE_PROCESSES) with BENCH_SCALE_IN_FLIGHT calls in flight each: login,
//      resumeSession, refreshTokens, logout; per row the sum of their throughput, p50/p99, the
//      connections each process holds and the CPU shares of PostgreSQL, the app processes and the
//      rest of the machine;
//   3. the same rows for accounts-js on @accounts/typeorm with BENCH_SCALE_JS_USERS users;
//   4. the query plans of the per-request statements (bench/scale/plans.js).
// Rows go to $1/*.jsonl; bench/scale/report.py prints the tables.
//   node bench/scale/driver.js <out dir>
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fork, execFileSync } = require('node:child_process')
const { performance } = require('node:perf_hooks')
const { PASSWORD, userName } = require('./users')

const OUT = process.argv[2]
const PG = process.env.ACCOUNTS_TEST_PG_URL
const PG_DIR = path.dirname(process.env.ACCOUNTS_TEST_PG_CTL)
const USERS = Number(process.env.BENCH_SCALE_USERS || 1000000)
const SIZES = [...new Set((process.env.BENCH_SCALE_SIZES || `1000,${USERS / 10},${USERS}`).split(',').map(Number))].sort((a, b) => a - b)
const JS_USERS = Number(process.env.BENCH_SCALE_JS_USERS || 100000)
const PROCESSES = (process.env.BENCH_SCALE_PROCESSES || '1,2,5,10').split(',').map(Number)
const SECONDS = Number(process.env.BENCH_SCALE_SECONDS || 3)
const IN_FLIGHT = Number(process.env.BENCH_SCALE_IN_FLIGHT || 64)
const ROWS = ['loginWithService(password)', 'resumeSession', 'refreshTokens', 'logout']
const JS = path.join(__dirname, '..', 'js', 'node_modules')
const PARTS = (process.env.BENCH_SCALE_PARTS || 'growth,rows,js,plans').split(',')
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim())

const write = (file, obj) => fs.appendFileSync(path.join(OUT, file), `${JSON.stringify(obj)}\n`)
const log = (...a) => console.error(`[bench-scale ${new Date().toISOString().slice(11, 19)}]`, ...a)

function psql(url, sql) {
  return execFileSync('psql', ['-qAtX', '-v', 'ON_ERROR_STOP=1', url, '-c', sql]).toString()
}

function freshDb(name) {
  const db = `scale_${name}_${process.pid}`
  psql(PG, `CREATE DATABASE ${db}`)
  return `${PG.slice(0, PG.lastIndexOf('/'))}/${db}`
}

// ---- CPU and connection sampling from /proc ----

/** utime + stime of a process, in seconds (null once it has exited). */
function cpuOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / CLK_TCK
  } catch {
    return null
  }
}

/** The postmaster and every process it started (backends, checkpointer, walwriter, ...). */
function postgresPids() {
  const postmaster = Number(fs.readFileSync(path.join(PG_DIR, 'data', 'postmaster.pid'), 'utf8').split('\n')[0])
  const pids = [postmaster]
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) pids.push(Number(p))
    } catch {}
  }
  return pids
}

/** Busy and total seconds of the whole machine (all cores) from /proc/stat. */
function machineCpu() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0)
  const idle = f[3] + f[4]
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK }
}

/**
 * CPU seconds so far of PostgreSQL's processes (backends that start or end between two samples
 * count from the sample that sees them; the bench's connections live for the whole row).
 */
function sampleCpu(workerPids) {
  const pg = {}
  for (const pid of postgresPids()) pg[pid] = cpuOf(pid)
  const workers = {}
  for (const pid of workerPids) workers[pid] = cpuOf(pid)
  return { at: performance.now(), machine: machineCpu(), pg, workers }
}

function cpuShares(a, b) {
  const wall = (b.at - a.at) / 1000
  const diff = (x, y) => Object.keys(y).reduce((s, pid) => s + (y[pid] !== null && x[pid] != null ? y[pid] - x[pid] : 0), 0)
  const cores = os.cpus().length
  const pg = diff(a.pg, b.pg)
  const app = diff(a.workers, b.workers)
  const busy = b.machine.busy - a.machine.busy
  // Shares of the whole machine (1.0 = every core busy for the whole row).
  return {
    wall_s: wall,
    cores,
    pg_cpu_s: pg,
    pg_share: pg / (wall * cores),
    app_share: app / (wall * cores),
    other_share: Math.max(0, busy - pg - app) / (wall * cores),
    machine_busy_share: busy / (b.machine.total - a.machine.total),
  }
}

/** TCP connections to PostgreSQL's port held by each of `pids` (their socket fds matched against /proc/net/tcp). */
function connectionsOf(pids) {
  const port = Number(new URL(PG).port).toString(16).toUpperCase().padStart(4, '0')
  const inodes = new Set()
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try {
      text = fs.readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length > 9 && f[2].endsWith(`:${port}`) && f[3] === '01') inodes.add(f[9])
    }
  }
  return pids.map((pid) => {
    let n = 0
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`) || '')
        if (m && inodes.has(m[1])) n++
      }
    } catch {}
    return n
  })
}

// ---- the parts ----

function waitFor(child, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m.type === type) {
        child.off('message', onMessage)
        child.off('exit', onExit)
        resolve(m)
      }
    }
    const onExit = (code) => reject(new Error(`process ${child.pid} exited with ${code} while waiting for ${type}`))
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

async function growth(store, url, hash) {
  log(`growth on ${store}: sizes ${SIZES.join(', ')}`)
  const child = fork(path.join(__dirname, 'worker.js'), [], {
    env: { ...process.env, SCALE_MODE: 'growth', SCALE_TARGET: 'ours', SCALE_URL: url, SCALE_SIZES: SIZES.join(','), SCALE_BCRYPT_HASH: hash },
  })
  for (let i = 0; i < SIZES.length; i++) {
    const { result } = await waitFor(child, 'growth')
    log(`  ${store} ${result.users} users: import ${result.import_users_per_s.toFixed(0)}/s, resume p50 ${result.resume.p50_ms.toFixed(3)} ms, login p50 ${result.login.p50_ms.toFixed(1)} ms`)
    write('growth.jsonl', { store, ...result })
  }
  await new Promise((r) => child.once('exit', r))
}

async function processRows(target, url, users, logoutSessions) {
  for (const processes of PROCESSES) {
    log(`${target}: ${processes} process(es), ${IN_FLIGHT} in flight each`)
    const children = Array.from({ length: processes }, (_, i) =>
      fork(path.join(__dirname, 'worker.js'), [], {
        env: {
          ...process.env,
          SCALE_MODE: 'rows',
          SCALE_TARGET: target,
          SCALE_URL: url,
          SCALE_INDEX: String(i),
          SCALE_PROCESSES: String(processes),
          SCALE_USERS: String(users),
          SCALE_IN_FLIGHT: String(IN_FLIGHT),
          SCALE_SECONDS: String(SECONDS),
          SCALE_LOGOUT_SESSIONS: String(logoutSessions),
        },
      }),
    )
    const pids = children.map((c) => c.pid)
    const ready = await Promise.all(children.map((c) => waitFor(c, 'ready')))
    for (const row of ROWS) {
      const at = Date.now() + 300
      const done = Promise.all(children.map((c) => waitFor(c, 'done')))
      for (const c of children) c.send({ type: 'row', row, at })
      await new Promise((r) => setTimeout(r, at - Date.now()))
      const before = sampleCpu(pids)
      let connections = null
      const probe = setTimeout(() => (connections = connectionsOf(pids)), Math.min(200, (SECONDS * 1000) / 2))
      const results = (await done).map((m) => m.result)
      const after = sampleCpu(pids)
      clearTimeout(probe)
      const lat = results.filter((r) => r.n > 0)
      const wall = Math.max(...results.map((r) => r.wall_s))
      const total = results.reduce((s, r) => s + r.n, 0)
      const errors = {}
      for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] || 0) + v
      const rec = {
        target,
        users,
        processes,
        in_flight: IN_FLIGHT,
        row,
        ops_per_s: total / wall,
        n: total,
        // p50 / p99 over the processes: the worst process's (each process measured its own calls)
        p50_ms: Math.max(...lat.map((r) => r.p50_ms)),
        p99_ms: Math.max(...lat.map((r) => r.p99_ms)),
        per_process_ops_per_s: results.map((r) => Math.round(r.ops_per_s)),
        connections_per_process: connections,
        errors,
        pool_left: row === 'logout' ? results.map((r) => r.pool_left) : undefined,
        open_ms: ready.map((m) => Math.round(m.open_ms)),
        ...cpuShares(before, after),
      }
      log(
        `  ${row}: ${rec.ops_per_s.toFixed(0)}/s p50 ${rec.p50_ms.toFixed(2)} p99 ${rec.p99_ms.toFixed(2)} ms, conns ${connections}, ` +
          `pg ${(rec.pg_share * 100).toFixed(0)} % app ${(rec.app_share * 100).toFixed(0)} % other ${(rec.other_share * 100).toFixed(0)} %` +
          (Object.keys(errors).length ? ` errors ${JSON.stringify(errors)}` : ''),
      )
      write('rows.jsonl', rec)
    }
    for (const c of children) c.send({ type: 'exit' })
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.once('exit', r)))))
  }
}

/**
 * accounts-js has no import: its users are written straight into @accounts/typeorm's tables (the
 * schema from TypeORM's synchronize), 1000 per INSERT, with the same bcrypt hash.
 */
async function importJs(url, n, hash) {
  require(path.join(JS, 'reflect-metadata'))
  const typeorm = require(path.join(JS, 'typeorm'))
  const { entities } = require(path.join(JS, '@accounts/typeorm'))
  const connection = await typeorm.createConnection({ type: 'postgres', url, entities, synchronize: true, logging: false })
  const start = performance.now()
  const options = JSON.stringify({ bcrypt: hash })
  for (let from = 0; from < n; from += 1000) {
    const to = Math.min(n, from + 1000)
    const ids = []
    const params = []
    for (let i = from; i < to; i++) ids.push(i)
    // Three statements per batch, one transaction: users, then their emails and password services.
    await connection.transaction(async (m) => {
      const values = ids.map((_, k) => `($${k + 1})`).join(',')
      const rows = await m.query(`INSERT INTO "user" (username) VALUES ${values} RETURNING id, username`, ids.map(userName))
      params.length = 0
      await m.query(
        `INSERT INTO user_email (address, verified, "userId") VALUES ${rows.map((_, k) => `($${2 * k + 1}, true, $${2 * k + 2})`).join(',')}`,
        rows.flatMap((r) => [`${r.username}@example.com`, r.id]),
      )
      await m.query(
        `INSERT INTO user_service (name, options, "userId") VALUES ${rows.map((_, k) => `('password', $${2 * k + 1}::jsonb, $${2 * k + 2})`).join(',')}`,
        rows.flatMap((r) => [options, r.id]),
      )
    })
  }
  const importS = (performance.now() - start) / 1000
  await connection.close()
  return importS
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true })
  const bcrypt = require(path.join(JS, 'bcryptjs'))
  // One bcrypt hash (cost 10, accounts-js's default) for every imported user.
  const hash = bcrypt.hashSync(PASSWORD, 10)
  write('machine.jsonl', {
    at: new Date().toISOString(),
    cpu: os.cpus()[0].model,
    cores: os.cpus().length,
    mem_gib: os.totalmem() / 2 ** 30,
    kernel: os.release(),
    node: process.version,
    postgres: psql(PG, 'SHOW server_version').trim(),
    pg_settings: psql(PG, "SELECT string_agg(name || '=' || setting, ' ') FROM pg_settings WHERE name IN ('shared_buffers','fsync','max_connections','synchronous_commit')").trim(),
    loadavg_start: os.loadavg(),
    users: USERS,
    sizes: SIZES,
    js_users: JS_USERS,
    processes: PROCESSES,
    seconds: SECONDS,
    in_flight: IN_FLIGHT,
  })
  const started = performance.now()
  const pgUrl = freshDb('ours')
  const stores = (process.env.BENCH_SCALE_GROWTH_STORES || 'sqlite,postgres').split(',')
  if (PARTS.includes('growth') && stores.includes('sqlite')) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accounts-bench-scale-'))
    await growth('sqlite', `sqlite:${path.join(dir, 'scale.db')}`, hash)
    if (PARTS.includes('plans')) require('./plans').sqlitePlans(path.join(dir, 'scale.db'), path.join(OUT, 'plans-sqlite.txt'))
    fs.rmSync(dir, { recursive: true, force: true })
  }
  if (PARTS.includes('growth') && stores.includes('postgres')) await growth('postgres', pgUrl, hash)
  if (PARTS.includes('rows')) await processRows('ours', pgUrl, SIZES[SIZES.length - 1], Number(process.env.BENCH_SCALE_LOGOUT_SESSIONS || 40000))
  if (PARTS.includes('plans')) await require('./plans').postgresPlans(pgUrl, SIZES[SIZES.length - 1], hash, path.join(PG_DIR, 'log'), path.join(OUT, 'plans-postgres.txt'))
  if (PARTS.includes('js')) {
    const jsUrl = freshDb('js')
    log(`accounts-js: writing ${JS_USERS} users into @accounts/typeorm's tables`)
    const importS = await importJs(jsUrl, JS_USERS, hash)
    log(`  ${(JS_USERS / importS).toFixed(0)} users/s`)
    write('js-import.jsonl', { users: JS_USERS, import_s: importS, users_per_s: JS_USERS / importS })
    await processRows('js-typeorm', jsUrl, JS_USERS, Number(process.env.BENCH_SCALE_JS_LOGOUT_SESSIONS || 2000))
  }
  write('machine.jsonl', { loadavg_end: os.loadavg(), wall_s: (performance.now() - started) / 1000 })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
