'use strict'
// A software authenticator for the passkey tests (test code only): what a browser and a platform
// authenticator hand the server, built with node:crypto. ES256 (P-256) and EdDSA (Ed25519) keys;
// fmt "none" attestation; the `credential.toJSON()` shapes of WebAuthn Level 3
// (RegistrationResponseJSON / AuthenticationResponseJSON), with every field a browser sends.
const crypto = require('node:crypto')

const b64u = (bytes) => Buffer.from(bytes).toString('base64url')
const fromB64u = (text) => Buffer.from(text, 'base64url')
const sha256 = (data) => crypto.createHash('sha256').update(data).digest()

// The little CBOR the attestation object and COSE keys need (canonical: the caller orders the
// keys as RFC 8949 §4.2.1 does — shorter encodings first, then bytewise).
function head(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n])
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n])
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff])
  throw new Error('too long for this test encoder')
}
function cbor(value) {
  if (Number.isInteger(value)) return value >= 0 ? head(0, value) : head(1, -1 - value)
  if (typeof value === 'string') return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)])
  if (Buffer.isBuffer(value)) return Buffer.concat([head(2, value.length), value])
  if (value instanceof Map) {
    const parts = [head(5, value.size)]
    for (const [k, v] of value) parts.push(cbor(k), cbor(v))
    return Buffer.concat(parts)
  }
  throw new Error(`no CBOR for ${value}`)
}

const ALGORITHMS = {
  ES256: { cose: -7, generate: () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }) },
  EdDSA: { cose: -8, generate: () => crypto.generateKeyPairSync('ed25519') },
}

function coseKey(alg, publicKey) {
  const jwk = publicKey.export({ format: 'jwk' })
  if (alg === 'ES256') {
    return new Map([[1, 2], [3, -7], [-1, 1], [-2, fromB64u(jwk.x)], [-3, fromB64u(jwk.y)]])
  }
  return new Map([[1, 1], [3, -8], [-1, 6], [-2, fromB64u(jwk.x)]])
}

const FLAGS = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 }

function authenticatorData(rpId, flags, signCount, attested) {
  const count = Buffer.alloc(4)
  count.writeUInt32BE(signCount >>> 0)
  return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, attested || Buffer.alloc(0)])
}

function clientData(type, challenge, origin) {
  // The member order browsers use (the spec's "limited verification algorithm" relies on it).
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }))
}

/**
 * A platform authenticator holding discoverable credentials. `origin` is what the browser would
 * put in clientDataJSON; `rpId` defaults to the options' rp.id. Options of `create`/`get`
 * override a ceremony: {origin, rpId, uv, up, challenge, signCount, alg}.
 */
class SoftAuthenticator {
  constructor({ origin, alg = 'ES256', uv = true, backup = false } = {}) {
    this.origin = origin
    this.alg = alg
    this.uv = uv
    this.backup = backup
    this.aaguid = crypto.randomBytes(16)
    this.credentials = [] // {id, rpId, userHandle, alg, privateKey, signCount}
  }

  flags({ uv = this.uv, up = true } = {}) {
    return (up ? FLAGS.UP : 0) | (uv ? FLAGS.UV : 0) | (this.backup ? FLAGS.BE | FLAGS.BS : 0)
  }

  /** navigator.credentials.create({publicKey: options}) then credential.toJSON(). */
  create(options, over = {}) {
    const alg = over.alg || this.alg
    const rpId = over.rpId || options.rp.id
    const { publicKey, privateKey } = ALGORITHMS[alg].generate()
    const id = crypto.randomBytes(16)
    const credential = { id, rpId, userHandle: fromB64u(options.user.id), alg, privateKey, signCount: 0 }
    this.credentials.push(credential)
    const idLength = Buffer.from([id.length >> 8, id.length & 0xff])
    const attested = Buffer.concat([this.aaguid, idLength, id, cbor(coseKey(alg, publicKey))])
    const authData = authenticatorData(rpId, this.flags(over) | FLAGS.AT, credential.signCount, attested)
    const clientDataJSON = clientData('webauthn.create', over.challenge || options.challenge, over.origin || this.origin)
    const attestationObject = cbor(new Map([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]))
    return {
      id: b64u(id),
      rawId: b64u(id),
      type: 'public-key',
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        transports: ['hybrid', 'internal'],
        publicKey: b64u(publicKey.export({ type: 'spki', format: 'der' })),
        publicKeyAlgorithm: ALGORITHMS[alg].cose,
        attestationObject: b64u(attestationObject),
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    }
  }

  /**
   * navigator.credentials.get({publicKey: options}) then credential.toJSON(): the first
   * credential of the rp the options allow (any, for usernameless sign-in), or `over.credential`.
   */
  get(options, over = {}) {
    const rpId = over.rpId || options.rpId
    const allowed = (options.allowCredentials || []).map((c) => c.id)
    const credential =
      over.credential ||
      this.credentials.find((c) => c.rpId === rpId && (allowed.length === 0 || allowed.includes(b64u(c.id))))
    if (!credential) throw new Error('no credential for this rp')
    credential.signCount += 1
    const signCount = over.signCount === undefined ? credential.signCount : over.signCount
    const authData = authenticatorData(rpId, this.flags(over), signCount)
    const clientDataJSON = clientData('webauthn.get', over.challenge || options.challenge, over.origin || this.origin)
    const signed = Buffer.concat([authData, sha256(clientDataJSON)])
    const signature = crypto.sign(credential.alg === 'ES256' ? 'sha256' : null, signed, credential.privateKey)
    return {
      id: b64u(credential.id),
      rawId: b64u(credential.id),
      type: 'public-key',
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        userHandle: b64u(credential.userHandle),
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    }
  }
}

/** A copy of `response` with one base64url field's bytes changed (a tampered signature, ...). */
function tamper(response, field) {
  const copy = structuredClone(response)
  const bytes = fromB64u(copy.response[field])
  bytes[bytes.length - 1] ^= 0x01
  copy.response[field] = b64u(bytes)
  return copy
}

module.exports = { SoftAuthenticator, tamper, b64u, fromB64u, cbor }
