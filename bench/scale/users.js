'use strict'
// The bench users of `make bench-scale`, shared by the driver and its processes.

const PASSWORD = 'correct horse battery'
const SECRET = 'bench-secret-0123456789abcdef-0123456789abcdef'

/** The username of the user at table position `i` (imported in that order). */
const userName = (i) => `user${i}`

/**
 * Table position of the `slot`-th user a process takes: a permutation of 0..users-1 (7919 is prime
 * and divides no size used here), so the users a run touches are spread over the whole table.
 */
const userIndex = (slot, users) => (slot * 7919 + 17) % users

module.exports = { PASSWORD, SECRET, userName, userIndex }
