'use strict'
// accounts-rs for Node: the accounts-js server API (@accounts/server + @accounts/password) over the
// native addon. Every method returns a Promise (but the synchronous ones of core's operation table)
// and runs where its row's class says; this file only converts arguments, parses results and wraps
// errors: the native side rejects with a JS Error carrying `code`, `number` and `details`, and
// argument shapes and error rules are core's. The method wrappers are generated from the table
// (marked regions, `make codegen`); the rest is hand-written.

const native = require('./load.js').load()

const CODES = native.errorCodes() // [[code, number, isInputError], ...]

/** An error from accounts-rs; `code` is the accounts-js code string (e.g. "InvalidCredentials"). */
class AccountsError extends Error {
  constructor(message, code, number, details) {
    super(message)
    // `code` is the only own enumerable property, as on accounts-js's AccountsJsError: apollo-server
    // copies an error's own enumerable properties into `extensions.exception`, so GraphQL clients
    // see what they see with accounts-js. `name`, `number` and `details` stay readable.
    this.code = code
    const hidden = (value) => ({ value, writable: true, configurable: true, enumerable: false })
    Object.defineProperties(this, { name: hidden('AccountsError'), number: hidden(number) })
    if (details !== undefined) Object.defineProperty(this, 'details', hidden(details))
  }
}

const NUMBERS = Object.fromEntries(CODES.map(([code, number]) => [code, number]))
/** The error codes by name: `ErrorCodes.InvalidCredentials === 'InvalidCredentials'`. */
const ErrorCodes = Object.freeze(Object.fromEntries(CODES.map(([code]) => [code, code])))

function isAccountsError(e) {
  return e instanceof AccountsError
}

// accounts-js transports (e.g. @accounts/rest-express) hide "email already exists" and "user not
// found" in ambiguous mode only for errors that are `instanceof AccountsJsError`. When
// @accounts/server is installed beside us, our errors join its prototype chain, so those checks
// keep hiding account existence. The code, message and `instanceof Error` stay the same.
let linkedAccountsJsError = null
function useAccountsJsError(AccountsJsError) {
  if (typeof AccountsJsError !== 'function' || !(AccountsJsError.prototype instanceof Error)) {
    throw new TypeError('useAccountsJsError expects the AccountsJsError class of @accounts/server')
  }
  Object.setPrototypeOf(AccountsError.prototype, AccountsJsError.prototype)
  linkedAccountsJsError = AccountsJsError
  return true
}

function linkAccountsJsErrorIfInstalled() {
  // The app's copy is the one its transports load: look from here, then from the app's entry point and cwd.
  const bases = [__dirname, require.main && require.main.path, process.cwd()].filter(Boolean)
  for (const base of bases) {
    try {
      const resolved = require.resolve('@accounts/server', { paths: [base] })
      return useAccountsJsError(require(resolved).AccountsJsError)
    } catch (_) {
      // not installed from this base
    }
  }
  return false
}
linkAccountsJsErrorIfInstalled()

// What a callback threw, kept until its call rejects with that very value (by handle through the
// core). Bounded: an error the core swallows (a failing error listener) is dropped eventually.
const thrown = new Map()
let nextThrown = 1
const MAX_THROWN = 1024

// What a failed host callback reports to the core, which reads it by its rules
// (AccountsError::from_host_failure): an object's `code` and `message` and a handle, so the call
// rejects with that very object; a thrown primitive (undefined, a string) as text.
function callbackFailure(err) {
  const plain = (v) => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : undefined)
  try {
    if (err === null || (typeof err !== 'object' && typeof err !== 'function')) return { text: String(err) }
    const handle = nextThrown++
    thrown.set(handle, err)
    if (thrown.size > MAX_THROWN) thrown.delete(thrown.keys().next().value)
    return { code: plain(err.code), message: plain(err.message), thrown: handle }
  } catch (_) {
    return { text: 'a value that cannot be shown' }
  }
}

// Options travel to the core as JSON, which would drop a function silently (e.g. an accounts-js
// `emailTemplates.verifyEmail.subject(user)`); an option we cannot honour is refused by name.
function refuseFunctions(value, path) {
  if (typeof value === 'function') throw fail('InvalidConfig', `${path} is a function; only the top-level callbacks (${CALLBACKS.join(', ')}) may be`)
  if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) refuseFunctions(inner, `${path}.${key}`)
  }
}

function fail(code, message) {
  return new AccountsError(message || code, code, NUMBERS[code])
}

// The native side rejects with an Error carrying `code` and `number` (and `thrown` for a host
// callback's own error): hand back the callback's very value, or the same error as an AccountsError.
function convertError(e) {
  if (e instanceof Error && !(e instanceof AccountsError) && typeof e.code === 'string' && typeof e.number === 'number') {
    if (e.thrown !== undefined && thrown.has(e.thrown)) {
      const original = thrown.get(e.thrown)
      thrown.delete(e.thrown)
      return original // the very value the callback threw or rejected with
    }
    return new AccountsError(e.message, e.code, e.number, e.details)
  }
  return e
}

async function call(promise) {
  try {
    return JSON.parse(await promise)
  } catch (e) {
    throw convertError(e)
  }
}

// A method resolving with nothing.
async function callVoid(promise) {
  await call(promise)
}

const MAX_INPUT_BYTES = native.maxInputBytes() // the bound the core applies to C and Python input

// The argument conversions of the generated wrappers, one per `Wire` of core's operation table.
function asStr(value, name) {
  if (typeof value !== 'string') throw fail('InvalidArgument', `${name} must be a string`)
  if (value.length > MAX_INPUT_BYTES / 3 && Buffer.byteLength(value) > MAX_INPUT_BYTES) {
    throw fail('InvalidArgument', `${name} is larger than ${MAX_INPUT_BYTES} bytes`)
  }
  return value
}

// A token argument: an absent one (undefined/null) is the empty token, which the core reports as
// accounts-js does for a missing token (InvalidToken, or InvalidTokens in refreshTokens).
function asToken(value, name) {
  return value === undefined || value === null ? '' : asStr(value, name)
}

function asObject(value, name) {
  if (value === null || typeof value !== 'object') throw fail('InvalidArgument', `${name} must be an object`)
  return JSON.stringify(value)
}

// Any JSON value (an argument whose shape the core checks).
function asJson(value, name) {
  try {
    return JSON.stringify(value === undefined ? null : value)
  } catch (e) {
    throw fail('InvalidArgument', `${name} cannot be sent as JSON: ${e.message}`)
  }
}

function asList(value, name) {
  if (!Array.isArray(value)) throw fail('InvalidArgument', `${name} must be an array`)
  return JSON.stringify(value)
}

// An optional argument: absent (undefined/null) stays absent.
function opt(convert, value, name) {
  return value === undefined || value === null ? undefined : convert(value, name)
}

// Wraps an async method so argument errors reject the promise instead of throwing.
function method(fn) {
  return function (...args) {
    try {
      return fn.apply(this, args)
    } catch (e) {
      return Promise.reject(convertError(e))
    }
  }
}

// Wraps a synchronous method: parses its JSON, throws its error as an AccountsError.
function sync(fn) {
  return function (...args) {
    try {
      const text = fn.apply(this, args)
      return text === undefined ? undefined : JSON.parse(text)
    } catch (e) {
      throw convertError(e)
    }
  }
}

const CALLBACKS = native.callbackNames() // the core's list: createJwtPayload, ..., validateUsername, validateEmail, validatePassword

// The objects carrying operations: each holds the native server; its methods are the generated
// wrappers of its rows of core's operation table (a region below each class).
class Service {
  constructor(server) {
    this._native = server._native
    this.server = server
  }
}

class PasswordService extends Service {
  constructor(server) {
    super(server)
    this.twoFactor = new TwoFactor(server)
  }
}
Object.assign(PasswordService.prototype, {
  // BEGIN generated by accounts-codegen from core/src/operations.rs: PasswordService (make codegen)
  /** Creates a user (username and/or email, password, profile fields); the new id. */
  createUser: method(function (user) { return call(this._native.passwordCreateUser(asObject(user, 'user'))) }),
  /** Checks a user and password without starting a session. */
  authenticate: method(function (params) { return call(this._native.passwordAuthenticate(asObject(params, 'params'))) }),
  /** A user by email address (case-insensitive), or null. */
  findUserByEmail: method(function (email) { return call(this._native.passwordFindUserByEmail(asStr(email, 'email'))) }),
  /** A user by username, or null. */
  findUserByUsername: method(function (username) { return call(this._native.passwordFindUserByUsername(asStr(username, 'username'))) }),
  /** Sets a user's password (no old password needed). */
  setPassword: method(function (userId, password) { return callVoid(this._native.passwordSetPassword(asStr(userId, 'userId'), asStr(password, 'password'))) }),
  /** Adds an email address to a user. */
  addEmail: method(function (userId, newEmail, verified) { return callVoid(this._native.passwordAddEmail(asStr(userId, 'userId'), asStr(newEmail, 'newEmail'), verified === true)) }),
  /** Removes an email address from a user. */
  removeEmail: method(function (userId, email) { return callVoid(this._native.passwordRemoveEmail(asStr(userId, 'userId'), asStr(email, 'email'))) }),
  /** Mails a verification link for an address. */
  sendVerificationEmail: method(function (address) { return callVoid(this._native.passwordSendVerificationEmail(asStr(address, 'address'))) }),
  /** Marks the address of a verification link verified. */
  verifyEmail: method(function (token) { return callVoid(this._native.passwordVerifyEmail(asStr(token, 'token'))) }),
  /** Mails a password reset link. */
  sendResetPasswordEmail: method(function (address) { return callVoid(this._native.passwordSendResetPasswordEmail(asStr(address, 'address'))) }),
  /** Mails an enrollment link (set a first password). */
  sendEnrollmentEmail: method(function (address) { return callVoid(this._native.passwordSendEnrollmentEmail(asStr(address, 'address'))) }),
  /** Sets a new password with a reset or enrollment link; a session when autologin is on (with two-factor on, only with a valid `code`). */
  resetPassword: method(function (token, newPassword, infos, code) { return call(this._native.passwordResetPassword(asStr(token, 'token'), asStr(newPassword, 'newPassword'), opt(asObject, infos, 'infos'), opt(asStr, code, 'code'))) }),
  /** Changes a password given the old one. */
  changePassword: method(function (userId, oldPassword, newPassword) { return callVoid(this._native.passwordChangePassword(asStr(userId, 'userId'), asStr(oldPassword, 'oldPassword'), asStr(newPassword, 'newPassword'))) }),
  // END generated
})

// accounts-js passes the speakeasy secret object around; accept it or the base32 string.
/** `password.twoFactor`: TOTP two-factor authentication (accounts-js `@accounts/two-factor` names). */
class TwoFactor extends Service {}
Object.assign(TwoFactor.prototype, {
  // BEGIN generated by accounts-codegen from core/src/operations.rs: TwoFactor (make codegen)
  /** A fresh TOTP secret (base32 and otpauth URL) to show the user. */
  getNewAuthSecret: sync(function () { return this._native.twoFactorGetNewAuthSecret() }),
  /** Turns two-factor on with a secret and a current code; the recovery codes (shown once). */
  set: method(function (userId, secret, code) { return call(this._native.twoFactorSet(asStr(userId, 'userId'), asJson(secret, 'secret'), asStr(code, 'code'))) }),
  /** Turns two-factor off given a current code. */
  unset: method(function (userId, code) { return callVoid(this._native.twoFactorUnset(asStr(userId, 'userId'), asStr(code, 'code'))) }),
  /** Replaces the recovery codes given a current code. */
  regenerateRecoveryCodes: method(function (userId, code) { return call(this._native.twoFactorRegenerateRecoveryCodes(asStr(userId, 'userId'), asStr(code, 'code'))) }),
  /** Whether two-factor is on for a user. */
  isSet: method(function (userId) { return call(this._native.twoFactorIsSet(asStr(userId, 'userId'))) }),
  // END generated
})

/** `getServices().magicLink` (accounts-js `@accounts/magic-link` names). */
class MagicLinkService extends Service {}
Object.assign(MagicLinkService.prototype, {
  // BEGIN generated by accounts-codegen from core/src/operations.rs: MagicLinkService (make codegen)
  /** Mails a one-time login link. */
  requestMagicLinkEmail: method(function (email) { return callVoid(this._native.magicLinkRequestMagicLinkEmail(asStr(email, 'email'))) }),
  // END generated
})

/** `getServices().oauth`: links between provider identities and users (docs/oauth.md). */
class OAuthService extends Service {}
Object.assign(OAuthService.prototype, {
  // BEGIN generated by accounts-codegen from core/src/operations.rs: OAuthService (make codegen)
  /** Starts an OpenID Connect login: the URL to redirect the browser to (the client's address bounds its pending flows). */
  authorizationUrl: method(function (provider, options, infos) { return call(this._native.oauthAuthorizationUrl(asStr(provider, 'provider'), opt(asObject, options, 'options'), opt(asObject, infos, 'infos'))) }),
  /** Fetches every OpenID provider's discovery and keys; fails naming the first that fails. */
  checkProviders: method(function () { return callVoid(this._native.oauthCheckProviders()) }),
  /** Links the provider identity the params prove to a user. */
  linkAccount: method(function (userId, provider, params) { return call(this._native.oauthLinkAccount(asStr(userId, 'userId'), asStr(provider, 'provider'), asObject(params, 'params'))) }),
  /** Removes a user's identity at a provider (not their last way in). */
  unlinkAccount: method(function (userId, provider) { return callVoid(this._native.oauthUnlinkAccount(asStr(userId, 'userId'), asStr(provider, 'provider'))) }),
  /** A user's provider identities. */
  listLinkedAccounts: method(function (userId) { return call(this._native.oauthListLinkedAccounts(asStr(userId, 'userId'))) }),
  /** The provider's own tokens kept from the last login or link, or null. */
  providerTokens: method(function (userId, provider) { return call(this._native.oauthProviderTokens(asStr(userId, 'userId'), asStr(provider, 'provider'))) }),
  // END generated
})

/** `getServices().webauthn`: passkeys (docs/passkeys.md); present when `services.webauthn` is configured. */
class WebAuthnService extends Service {}
Object.assign(WebAuthnService.prototype, {
  // BEGIN generated by accounts-codegen from core/src/operations.rs: WebAuthnService (make codegen)
  /** Starts adding a passkey to a user: the options for navigator.credentials.create (JSON form). */
  registrationOptions: method(function (userId) { return call(this._native.webauthnRegistrationOptions(asStr(userId, 'userId'))) }),
  /** Verifies the browser's answer to registrationOptions and stores the passkey. */
  register: method(function (userId, response, options) { return call(this._native.webauthnRegister(asStr(userId, 'userId'), asObject(response, 'response'), opt(asObject, options, 'options'))) }),
  /** Starts a passkey sign-in (no user: usernameless and conditional mediation): the options for navigator.credentials.get. */
  authenticationOptions: method(function (options, infos) { return call(this._native.webauthnAuthenticationOptions(opt(asObject, options, 'options'), opt(asObject, infos, 'infos'))) }),
  /** A user's passkeys. */
  listPasskeys: method(function (userId) { return call(this._native.webauthnListPasskeys(asStr(userId, 'userId'))) }),
  /** Renames one of a user's passkeys. */
  renamePasskey: method(function (userId, passkeyId, name) { return call(this._native.webauthnRenamePasskey(asStr(userId, 'userId'), asStr(passkeyId, 'passkeyId'), asStr(name, 'name'))) }),
  /** Removes one of a user's passkeys (not their last way in). */
  removePasskey: method(function (userId, passkeyId) { return callVoid(this._native.webauthnRemovePasskey(asStr(userId, 'userId'), asStr(passkeyId, 'passkeyId'))) }),
  // END generated
})

// accounts-js templates may be functions `(user, url) => string`: the strings go to the core
// (which renders them), the functions stay here and are called by the prepareMail step.
const TEMPLATE_FIELDS = ['subject', 'text', 'html']
function splitTemplates(templates) {
  if (templates === null || typeof templates !== 'object') return { strings: templates, functions: {} }
  const strings = {}
  const functions = {}
  for (const [kind, template] of Object.entries(templates)) {
    if (template === null || typeof template !== 'object') {
      strings[kind] = template
      continue
    }
    strings[kind] = {}
    for (const [field, value] of Object.entries(template)) {
      if (typeof value === 'function' && TEMPLATE_FIELDS.includes(field)) {
        functions[kind] = functions[kind] || {}
        functions[kind][field] = value
      } else {
        strings[kind][field] = value
      }
    }
  }
  return { strings, functions }
}

// accounts-js's prepareMail step over the core's rendered mail: `template` has accounts-js's
// shape (functions of `(user, url)`), from the app's functions or the core's rendered text.
function mailPreparer(userPrepare, functions, siteUrl) {
  return (to, token, user, pathFragment, rendered, from, kind) => {
    const own = functions[kind] || {}
    const template = { from: rendered.from }
    for (const field of TEMPLATE_FIELDS) template[field] = own[field] || (() => rendered[field])
    if (userPrepare) return userPrepare(to, token, user, pathFragment, template, from)
    const url = pathFragment ? `${siteUrl.replace(/\/+$/, '')}/${pathFragment}/${token}` : ''
    return { type: kind, from: template.from || from, to, subject: template.subject(user), text: template.text(user, url), html: template.html(user, url) }
  }
}

class AccountsServer {
  /**
   * @param {object} options `{db, tokenSecret, ...}` as in docs/configuration.md, plus the callbacks
   *   createJwtPayload, userObjectSanitizer, impersonationAuthorize, resumeSessionValidator,
   *   validateNewUser, validateUsername, validateEmail, validatePassword, prepareMail, sendMail
   *   (sync or async functions); `emailTemplates` fields may be functions as in accounts-js.
   */
  constructor(options) {
    if (options === null || typeof options !== 'object') throw fail('InvalidConfig', 'options must be an object')
    const config = {}
    this._callbacks = {}
    let templateFunctions = {}
    for (const [key, value] of Object.entries(options)) {
      if (CALLBACKS.includes(key)) {
        if (value === undefined || value === null) continue
        if (typeof value !== 'function') throw fail('InvalidConfig', `${key} must be a function`)
        this._callbacks[key] = value
      } else if (key === 'emailTemplates') {
        const { strings, functions } = splitTemplates(value)
        refuseFunctions(strings, key)
        config[key] = strings
        templateFunctions = functions
      } else {
        refuseFunctions(value, key)
        config[key] = value
      }
    }
    if (this._callbacks.prepareMail || Object.keys(templateFunctions).length > 0) {
      const siteUrl = typeof options.siteUrl === 'string' ? options.siteUrl : 'http://localhost:3000'
      this._callbacks.prepareMail = mailPreparer(this._callbacks.prepareMail, templateFunctions, siteUrl)
    }
    this._listeners = new Map()
    this._nextListener = 1
    try {
      this._native = new native.NativeServer(JSON.stringify(config), Object.keys(this._callbacks), (name, argsJson, replyId) =>
        this._dispatch(name, argsJson, replyId),
      )
    } catch (e) {
      throw convertError(e)
    }
    this.options = Object.freeze(JSON.parse(this._native.optionsJson()))
    this._services = { password: new PasswordService(this), magicLink: new MagicLinkService(this) }
    // As in accounts-js, only configured services are listed: `oauth` once a provider is configured.
    if (this._native.serviceNames().includes('oauth')) this._services.oauth = new OAuthService(this)
    // `webauthn` once `services.webauthn` is configured (docs/passkeys.md).
    if (this._native.serviceNames().includes('webauthn')) this._services.webauthn = new WebAuthnService(this)
  }

  // Runs a host callback on the JS thread and hands its result back to the waiting pool thread.
  _dispatch(name, argsJson, replyId) {
    if (Array.isArray(name)) [name, argsJson, replyId] = name // napi passes the tuple as one array
    const args = JSON.parse(argsJson)
    let fn
    if (name === 'listener') {
      const [key, , payload] = args
      const entry = this._listeners.get(key)
      fn = entry ? () => entry.listener(payload) : () => undefined
    } else {
      const cb = this._callbacks[name]
      fn = () => cb(...args)
    }
    // Whatever the callback does — throw, reject, return a BigInt or a cycle JSON cannot carry —
    // the waiting call gets a coded answer and nothing escapes as an unhandled rejection.
    const answer = (result, error) => {
      try {
        this._native.reply(replyId, result, error)
      } catch (_) {
        // The call already gave up (hostCallbackTimeout) or the server is gone: nobody waits.
      }
    }
    Promise.resolve()
      .then(fn)
      .then(
        (result) => {
          let text
          try {
            text = JSON.stringify(result === undefined ? null : result)
          } catch (e) {
            return answer(null, JSON.stringify({ message: `callback returned a value JSON cannot carry: ${e.message}` }))
          }
          answer(text === undefined ? 'null' : text, null)
        },
        (err) => answer(null, JSON.stringify(callbackFailure(err))),
      )
  }

  getServices() {
    return this._services
  }

  /** The effective options (accounts-js `getOptions()`; secrets shown as "[redacted]"). */
  getOptions() {
    return this.options
  }

  /** Adds an event listener; returns a function that removes it. */
  on(event, listener) {
    asStr(event, 'event')
    if (typeof listener !== 'function') throw fail('InvalidArgument', 'listener must be a function')
    const key = this._nextListener++
    const id = this._native.on(event, key)
    this._listeners.set(key, { listener, id })
    return () => {
      this._listeners.delete(key)
      return this._native.off(id)
    }
  }

  /**
   * resumeSession on the calling thread: a few µs, no thread-pool round trip. Throws (does not
   * deadlock) when a callback or listener would have to run during it.
   */
  resumeSessionSync(accessToken) {
    asStr(accessToken, 'accessToken')
    const blocking = this._native.resumeCallbacks()
    if (blocking.length > 0) {
      throw fail('CallbackError', `resumeSessionSync cannot run JS callbacks (${blocking.join(', ')}); use resumeSession`)
    }
    try {
      return JSON.parse(this._native.resumeSessionSync(accessToken))
    } catch (e) {
      throw convertError(e)
    }
  }
}

// An HTTP request ({method, path, headers, body?, peer?, query?}) in core's JSON form: headers as
// [name, value] pairs, a Node headers object, or rawHeaders' flat list; a body that is not UTF-8
// travels as base64.
function asRequest(request) {
  if (request === null || typeof request !== 'object') throw fail('InvalidArgument', 'request must be an object')
  const { method, path, headers = [], body, peer, query } = request
  let pairs
  if (Array.isArray(headers) && headers.every((h) => typeof h === 'string')) {
    pairs = []
    for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]])
  } else if (Array.isArray(headers)) {
    pairs = headers.map((h) => [String(h[0]), String(h[1])])
  } else if (headers && typeof headers === 'object') {
    pairs = Object.entries(headers).flatMap(([n, v]) => (v === undefined ? [] : Array.isArray(v) ? v.map((x) => [n, String(x)]) : [[n, String(v)]]))
  } else {
    throw fail('InvalidArgument', 'headers must be [name, value] pairs or an object')
  }
  const out = { method: asStr(method, 'method'), path: asStr(path, 'path'), headers: pairs }
  if (query !== undefined && query !== null && query !== '') out.query = asStr(query, 'query')
  if (peer !== undefined && peer !== null && peer !== '') out.peer = asStr(peer, 'peer')
  if (typeof body === 'string') out.body = body
  else if (body instanceof Uint8Array) {
    const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
    const text = bytes.toString('utf8')
    if (Buffer.byteLength(text) === bytes.length && !text.includes('\ufffd')) out.body = text
    else out.bodyBase64 = bytes.toString('base64')
  } else if (body !== undefined && body !== null) throw fail('InvalidArgument', 'body must be a string or a Buffer')
  return JSON.stringify(out)
}

Object.assign(AccountsServer.prototype, {
  // BEGIN generated by accounts-codegen from core/src/operations.rs: AccountsServer (make codegen)
  /** Authenticates with a service (password, magicLink, oauth, webauthn, or a custom one) and starts a session. */
  loginWithService: method(function (service, params, infos) { return call(this._native.loginWithService(asStr(service, 'service'), asObject(params, 'params'), opt(asObject, infos, 'infos'))) }),
  /** Authenticates with a service without starting a session. */
  authenticateWithService: method(function (service, params, infos) { return call(this._native.authenticateWithService(asStr(service, 'service'), asObject(params, 'params'), opt(asObject, infos, 'infos'))) }),
  /** Starts a session for a user the host has authenticated itself. */
  loginWithUser: method(function (user, infos) { return call(this._native.loginWithUser(asJson(user, 'user'), opt(asObject, infos, 'infos'))) }),
  /** The user of a valid access token (runs resumeSessionValidator). */
  resumeSession: method(function (accessToken) { return call(this._native.resumeSession(asToken(accessToken, 'accessToken'))) }),
  /** Rotates the refresh token and signs a new access token. */
  refreshTokens: method(function (accessToken, refreshToken, infos) { return call(this._native.refreshTokens(asToken(accessToken, 'accessToken'), asToken(refreshToken, 'refreshToken'), opt(asObject, infos, 'infos'))) }),
  /** Ends the session of an access token. */
  logout: method(function (accessToken) { return callVoid(this._native.logout(asToken(accessToken, 'accessToken'))) }),
  /** Starts a session as another user when impersonationAuthorize allows it. */
  impersonate: method(function (accessToken, impersonated, infos) { return call(this._native.impersonate(asToken(accessToken, 'accessToken'), asObject(impersonated, 'impersonated'), opt(asObject, infos, 'infos'))) }),
  /** A user by id, or null. */
  findUserById: method(function (userId) { return call(this._native.findUserById(asStr(userId, 'userId'))) }),
  /** The session of an access token. */
  findSessionByAccessToken: method(function (accessToken) { return call(this._native.findSessionByAccessToken(asToken(accessToken, 'accessToken'))) }),
  /** Refuses the user's logins and ends their sessions. */
  deactivateUser: method(function (userId) { return callVoid(this._native.deactivateUser(asStr(userId, 'userId'))) }),
  /** Lets a deactivated user log in again. */
  activateUser: method(function (userId) { return callVoid(this._native.activateUser(asStr(userId, 'userId'))) }),
  /** Every session of a user, newest first. */
  listSessions: method(function (userId) { return call(this._native.listSessions(asStr(userId, 'userId'))) }),
  /** Ends one session; says whether it was still valid. */
  revokeSession: method(function (sessionId) { return call(this._native.revokeSession(asStr(sessionId, 'sessionId'))) }),
  /** Ends every valid session of a user but `except`; the count. */
  revokeAllSessions: method(function (userId, options) { return call(this._native.revokeAllSessions(asStr(userId, 'userId'), opt(asObject, options, 'options'))) }),
  /** Imports users stored by accounts-js (mongo documents or typeorm rows). */
  importUsers: method(function (records) { return call(this._native.importUsers(asList(records, 'records'))) }),
  /** Deletes expired link tokens and attempt records. */
  purgeExpired: method(function () { return call(this._native.purgeExpired()) }),
  /** Re-encrypts what older sealing secrets sealed with the current one; the count. */
  resealAll: method(function () { return call(this._native.resealAll()) }),
  /** The JWKS document of the token signing key. */
  getJwks: sync(function () { return this._native.getJwks() }),
  /** Replaces the JWT key ring without a restart. */
  setKeys: sync(function (tokenKeys) { this._native.setKeys(asObject(tokenKeys, 'tokenKeys')) }),
  /** Serves one request of the accounts-js REST API (a login route hashes; docs/web.md). */
  handleHttp: method(function (request) { return call(this._native.handleHttp(asRequest(request, 'request'))) }),
  /** The user of a request to an app's own route (bearer, or cookie with the CSRF checks), or null. */
  httpUser: method(function (request) { return call(this._native.httpUser(asRequest(request, 'request'))) }),
  // END generated
})

// Functions of the module (no server).
const moduleFunctions = {
  // BEGIN generated by accounts-codegen from core/src/operations.rs: module functions (make codegen)
  /** Verifies an access token without a server (another service holding the JWKS or key); its claims. */
  verifyAccessToken: sync(function (token, options) { return native.verifyAccessToken(asToken(token, 'token'), asObject(options, 'options')) }),
  // END generated
}

module.exports = {
  ...moduleFunctions,
  AccountsServer,
  PasswordService,
  TwoFactor,
  MagicLinkService,
  WebAuthnService,
  AccountsError,
  isAccountsError,
  useAccountsJsError,
  accountsJsErrorLinked: () => linkedAccountsJsError !== null,
  ErrorCodes,
  version: native.version(),
}
