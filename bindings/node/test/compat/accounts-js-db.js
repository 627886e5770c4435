'use strict'
// In-memory database adapters for the real accounts-js server in the compat tests (parity and
// GraphQL): the bench's MemoryDb, returning copies as a real database does, plus the adapter methods
// accounts-js's account flows, two-factor and magic links use.
const { MemoryDb } = require('../../../../bench/node/memory-db.js')

/** The in-memory adapter, returning copies as a real database does (not the stored objects). */
class CopyingDb extends MemoryDb {}
for (const method of ['findUserById', 'findUserByEmail', 'findUserByUsername', 'findSessionById', 'findSessionByToken']) {
  CopyingDb.prototype[method] = async function (...args) {
    const found = await MemoryDb.prototype[method].apply(this, args)
    return found && structuredClone(found)
  }
}

/** The adapter methods accounts-js's account flows, two-factor and magic links use (mongo-like). */
class FullDb extends CopyingDb {
  user(id) {
    const u = this.users.get(id)
    if (!u) throw new Error('User not found')
    return u
  }
  tokens(u, service, list) {
    u.services[service] = u.services[service] || {}
    u.services[service][list] = u.services[service][list] || []
    return u.services[service][list]
  }
  findBy(service, list, token) {
    for (const u of this.users.values()) if (((u.services[service] || {})[list] || []).some((t) => t.token === token)) return structuredClone(u)
    return null
  }
  async addEmail(userId, address, verified) {
    this.user(userId).emails.push({ address: address.toLowerCase(), verified })
    this.byEmail.set(address.toLowerCase(), userId)
  }
  async removeEmail(userId, address) {
    const u = this.user(userId)
    u.emails = u.emails.filter((e) => e.address !== address.toLowerCase())
    this.byEmail.delete(address.toLowerCase())
  }
  async verifyEmail(userId, address) {
    const u = this.user(userId)
    u.emails.find((e) => e.address === address).verified = true
    if (u.services.email) u.services.email.verificationTokens = u.services.email.verificationTokens.filter((t) => t.address !== address)
  }
  async addEmailVerificationToken(userId, address, token) {
    const u = this.user(userId)
    this.tokens(u, 'email', 'verificationTokens').push({ token, address, when: Date.now() })
  }
  async findUserByEmailVerificationToken(token) {
    return this.findBy('email', 'verificationTokens', token)
  }
  async addResetPasswordToken(userId, address, token, reason) {
    const u = this.user(userId)
    this.tokens(u, 'password', 'reset').push({ token, address, when: Date.now(), reason })
  }
  async findUserByResetPasswordToken(token) {
    return this.findBy('password', 'reset', token)
  }
  async removeAllResetPasswordTokens(userId) {
    const u = this.user(userId)
    if (u.services.password) u.services.password.reset = []
  }
  async addLoginToken(userId, address, token) {
    const u = this.user(userId)
    this.tokens(u, 'magicLink', 'loginTokens').push({ token, address, when: Date.now() })
  }
  async findUserByLoginToken(token) {
    return this.findBy('magicLink', 'loginTokens', token)
  }
  async removeAllLoginTokens(userId) {
    const u = this.user(userId)
    if (u.services.magicLink) u.services.magicLink.loginTokens = []
  }
  async setPassword(userId, hash) {
    const u = this.user(userId)
    u.services.password = { ...(u.services.password || {}), bcrypt: hash }
  }
  async setService(userId, name, data) {
    this.user(userId).services[name] = data
  }
  async unsetService(userId, name) {
    delete this.user(userId).services[name]
  }
}


module.exports = { CopyingDb, FullDb }
