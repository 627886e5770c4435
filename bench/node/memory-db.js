'use strict'
// A small in-memory database for accounts-js (its DatabaseInterface, the methods the benchmarked
// operations use): accounts-js's best case, with no I/O at all.
class MemoryDb {
  constructor() {
    this.users = new Map()
    this.byEmail = new Map()
    this.byUsername = new Map()
    this.sessions = new Map()
    this.byToken = new Map()
    this.nextUser = 1
    this.nextSession = 1
  }

  async createUser({ password, username, email, ...profile }) {
    const id = String(this.nextUser++)
    const now = Date.now()
    const user = {
      ...profile,
      id,
      username,
      emails: email ? [{ address: email.toLowerCase(), verified: false }] : [],
      services: password ? { password: { bcrypt: password } } : {},
      deactivated: false,
      createdAt: now,
      updatedAt: now,
    }
    this.users.set(id, user)
    if (username) this.byUsername.set(username, id)
    if (email) this.byEmail.set(email.toLowerCase(), id)
    return id
  }

  async findUserById(id) {
    return this.users.get(id) || null
  }

  async findUserByEmail(email) {
    const id = this.byEmail.get(String(email).toLowerCase())
    return id ? this.users.get(id) : null
  }

  async findUserByUsername(username) {
    const id = this.byUsername.get(username)
    return id ? this.users.get(id) : null
  }

  async findPasswordHash(userId) {
    const u = this.users.get(userId)
    return (u && u.services.password && u.services.password.bcrypt) || null
  }

  async setPassword(userId, hash) {
    const u = this.users.get(userId)
    if (u) u.services.password = { bcrypt: hash }
  }

  async setUserDeactivated(userId, deactivated) {
    const u = this.users.get(userId)
    if (u) u.deactivated = deactivated
  }

  async createSession(userId, token, connection = {}, extra = {}) {
    const id = String(this.nextSession++)
    const now = Date.now()
    const session = { id, userId, token, valid: true, userAgent: connection.userAgent, ip: connection.ip, createdAt: now, updatedAt: now, ...extra }
    this.sessions.set(id, session)
    this.byToken.set(token, id)
    return id
  }

  async findSessionById(id) {
    return this.sessions.get(id) || null
  }

  async findSessionByToken(token) {
    const id = this.byToken.get(token)
    return id ? this.sessions.get(id) : null
  }

  async updateSession(id, connection = {}, newToken) {
    const s = this.sessions.get(id)
    if (!s) return
    if (newToken) {
      this.byToken.delete(s.token)
      s.token = newToken
      this.byToken.set(newToken, id)
    }
    s.userAgent = connection.userAgent
    s.ip = connection.ip
    s.updatedAt = Date.now()
  }

  async invalidateSession(id) {
    const s = this.sessions.get(id)
    if (s) s.valid = false
  }

  async invalidateAllSessions(userId, except) {
    for (const s of this.sessions.values()) if (s.userId === userId && !(except || []).includes(s.id)) s.valid = false
  }
}

module.exports = { MemoryDb }
