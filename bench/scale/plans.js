'use strict'
// Query plans of the per-request statements, for bench/RESULTS.md (`make bench-scale`).
//   PostgreSQL: the statements one process really sends for each call (log_statement = all on the
//   bench database, the server log read back per call), each run again under EXPLAIN ANALYZE with
//   its logged parameters, in a transaction that is rolled back.
//   SQLite: EXPLAIN QUERY PLAN of the same store calls' statements, as written in
//   core/src/store/sqlite.rs (checked against that file, so a changed statement fails the bench).
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync, fork } = require('node:child_process')

const ROOT = path.join(__dirname, '..', '..')

// ---- SQLite ----

const SQLITE_USER_COLUMNS = 'u.id, u.username, u.emails, u.profile, u.deactivated, u.created_at, u.updated_at'
const SQLITE_SESSION_COLUMNS =
  'id, user_id, valid, ip, user_agent, impersonator_user_id, refresh_counter, created_at, updated_at, refresh_digest, prev_refresh_digest, rotated_at'

/** Store call -> its statements (core/src/store/sqlite.rs), for the calls the PostgreSQL log shows per request. */
const SQLITE_STATEMENTS = [
  ['find_session', 'SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1'],
  ['find_user_by_id', 'SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1'],
  ['find_user_by_username', 'SELECT {USER_COLUMNS} FROM users u WHERE u.username = ?1'],
  ['find_password_hash', 'SELECT hash FROM passwords WHERE user_id = ?1'],
  ['read_attempts', 'SELECT failures, expires_at FROM attempts WHERE digest = ?1 AND expires_at > ?2'],
  ['hit_attempts', 'DELETE FROM attempts WHERE expires_at <= ?1'],
  ['release_attempts', 'DELETE FROM attempts WHERE digest = ?1'],
  ['set_password_hash', 'UPDATE users SET updated_at = ?2 WHERE id = ?1'],
  [
    'rotate_session',
    'UPDATE sessions SET prev_refresh_digest = refresh_digest, refresh_digest = ?3, refresh_counter = refresh_counter + 1, rotated_at = ?4, updated_at = ?4, ip = COALESCE(?5, ip), user_agent = COALESCE(?6, user_agent) WHERE id = ?1 AND valid = 1 AND refresh_digest = ?2',
  ],
  ['invalidate_session', 'UPDATE sessions SET valid = 0, updated_at = ?2 WHERE id = ?1 AND valid = 1'],
]

function sqlitePlans(dbFile, outFile) {
  // The Rust source with its string continuations (`\` + newline + indentation) joined.
  const source = fs.readFileSync(path.join(ROOT, 'core', 'src', 'store', 'sqlite.rs'), 'utf8').replace(/\\\n\s*/g, '')
  const out = [`SQLite: EXPLAIN QUERY PLAN (sqlite3 CLI ${execFileSync('sqlite3', ['--version']).toString().split(' ')[0]} on the bench file)`]
  const counts = execFileSync('sqlite3', [dbFile, 'SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM sessions)']).toString().trim().split('|')
  out.push(`tables: ${counts[0]} users, ${counts[1]} sessions`, '')
  for (const [call, sql] of SQLITE_STATEMENTS) {
    if (!source.includes(sql)) throw new Error(`plans: core/src/store/sqlite.rs no longer has: ${sql}`)
    const text = sql.replace('{USER_COLUMNS}', SQLITE_USER_COLUMNS).replace('{SESSION_COLUMNS}', SQLITE_SESSION_COLUMNS)
    const plan = execFileSync('sqlite3', [dbFile, `EXPLAIN QUERY PLAN ${text}`]).toString().trim()
    out.push(`-- ${call}: ${sql}`, plan, '')
  }
  fs.writeFileSync(outFile, `${out.join('\n')}\n`)
}

// ---- PostgreSQL ----

function psql(url, sql) {
  return execFileSync('psql', ['-qAtX', '-v', 'ON_ERROR_STOP=1', url, '-c', sql]).toString()
}

/** The statements (and their parameters) the server logged between two offsets of its log. */
function loggedStatements(logFile, from, to) {
  const fd = fs.openSync(logFile, 'r')
  const buf = Buffer.alloc(to - from)
  fs.readSync(fd, buf, 0, buf.length, from)
  fs.closeSync(fd)
  const out = []
  const last = {} // backend pid -> its latest statement (a DETAIL line belongs to it)
  for (const line of buf.toString().split('\n')) {
    const backend = (/\[(\d+)\]/.exec(line) || [])[1]
    let m = /LOG: {2}(?:execute [^:]*|statement): (.*)$/.exec(line)
    if (m) {
      last[backend] = { sql: m[1], params: {} }
      out.push(last[backend])
      continue
    }
    m = /DETAIL: {2}parameters: (.*)$/.exec(line)
    if (m && last[backend]) {
      for (const p of m[1].matchAll(/\$(\d+) = ('(?:[^']|'')*'|NULL)/g)) last[backend].params[p[1]] = p[2]
    }
  }
  return out
}

/** `sql` with its $n parameters replaced by the logged literals. */
function bind(sql, params) {
  return sql.replace(/\$(\d+)/g, (all, n) => (n in params ? params[n] : all))
}

/**
 * Runs one process that makes each per-request call once (a login after the first, which rehashed;
 * resumeSession, refreshTokens, logout) with every statement logged, then explains each statement.
 */
async function postgresPlans(url, users, hash, logFile, outFile) {
  const db = url.slice(url.lastIndexOf('/') + 1)
  psql(url, `ALTER DATABASE ${db} SET log_statement = 'all'`)
  const child = fork(path.join(__dirname, 'plans-calls.js'), [], { env: { ...process.env, SCALE_URL: url, SCALE_USERS: String(users), SCALE_BCRYPT_HASH: hash } })
  const calls = []
  try {
    await new Promise((resolve, reject) => {
      let mark = fs.statSync(logFile).size
      child.on('message', (m) => {
        // Each message follows one call: the log written since the previous mark is that call's.
        const size = fs.statSync(logFile).size
        if (m.type === 'call') calls.push({ name: m.name, statements: loggedStatements(logFile, mark, size) })
        mark = size
        child.send({ type: 'next' })
      })
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`plans-calls exited with ${code}`))))
    })
  } finally {
    psql(url, `ALTER DATABASE ${db} RESET log_statement`)
  }
  const counts = psql(url, 'SELECT (SELECT count(*) FROM users) || \' users, \' || (SELECT count(*) FROM sessions) || \' sessions\'').trim()
  const out = [`PostgreSQL ${psql(url, 'SHOW server_version').trim()}: the statements of each call (server log), each under EXPLAIN (ANALYZE, BUFFERS) with its logged parameters, rolled back`]
  out.push(`tables: ${counts}`, '')
  for (const call of calls) {
    out.push(`==== ${call.name}: ${call.statements.length} statements`)
    for (const s of call.statements) {
      out.push(`-- ${s.sql}`)
      if (!/^(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(s.sql) || /^SELECT 1$/i.test(s.sql)) continue
      let plan
      try {
        plan = psql(url, `BEGIN; EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${bind(s.sql, s.params)}; ROLLBACK;`).trim()
      } catch {
        // Run again it would fail (an INSERT of the row it already wrote): the plan alone.
        plan = `${psql(url, `EXPLAIN (COSTS OFF) ${bind(s.sql, s.params)}`).trim()}\n(plan only: run again the statement would conflict with the row it wrote)`
      }
      out.push(plan.replace(/^/gm, '   '))
    }
    out.push('')
  }
  fs.writeFileSync(outFile, `${out.join('\n')}\n`)
}

module.exports = { sqlitePlans, postgresPlans }
