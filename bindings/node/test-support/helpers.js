'use strict'
// What the Node test files share: the test secret, fast hashing, servers on a fresh database, and
// the coded-rejection assertion.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { AccountsServer, isAccountsError } = require('..')

const SECRET = 'node-test-secret-0123456789abcdef-0123456'
const FAST = { password: { hashing: { memoryKib: 256, iterations: 1, parallelism: 1 } } }

/** Asserts `promise` rejects with an AccountsError of `code`; returns that error. */
async function rejects(promise, code) {
  let caught
  await assert.rejects(promise, (e) => {
    assert.ok(isAccountsError(e), `not an AccountsError: ${e}`)
    assert.equal(e.code, code)
    caught = e
    return true
  })
  return caught
}

/** A server on an in-memory SQLite database with fast hashing; `extra` adds or replaces options. */
function memoryServer(extra = {}) {
  return new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, services: FAST, ...extra })
}

/**
 * The URL of a fresh SQLite database file (its readers never wait for a writer, unlike an
 * in-memory one), removed after the test when `t` is given.
 */
function fileDb(t, prefix = 'accounts-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  if (t) t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return `sqlite:${path.join(dir, 'accounts.db')}`
}

/** A server on a fresh SQLite file with fast hashing (see fileDb). */
function fileServer(t, extra = {}) {
  return new AccountsServer({ db: fileDb(t), tokenSecret: SECRET, services: FAST, ...extra })
}

module.exports = { SECRET, FAST, rejects, memoryServer, fileDb, fileServer }
