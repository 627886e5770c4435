'use strict'
// What the Node test files share: the test secret, fast hashing, and the coded-rejection assertion.
const assert = require('node:assert/strict')
const { isAccountsError } = require('..')

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

module.exports = { SECRET, FAST, rejects }
