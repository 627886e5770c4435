"""A software authenticator for the passkey tests (test code only): what a browser and a platform
authenticator hand the server, built with the `cryptography` package. ES256 (P-256) and EdDSA
(Ed25519) keys; fmt "none" attestation; the `credential.toJSON()` shapes of WebAuthn Level 3
(RegistrationResponseJSON / AuthenticationResponseJSON), with every field a browser sends."""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

PrivateKey = Union[ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey]


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    if n < 0x100:
        return bytes([major << 5 | 24, n])
    if n < 0x10000:
        return bytes([major << 5 | 25]) + struct.pack(">H", n)
    raise ValueError("too long for this test encoder")


def cbor(value: Any) -> bytes:
    """The little CBOR the attestation object and COSE keys need; dicts keep the caller's
    (canonical, RFC 8949 §4.2.1) key order."""
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, str):
        raw = value.encode()
        return _head(3, len(raw)) + raw
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, dict):
        return _head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(f"no CBOR for {value!r}")


COSE_ALG = {"ES256": -7, "EdDSA": -8}
UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def _generate(alg: str) -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1()) if alg == "ES256" else ed25519.Ed25519PrivateKey.generate()


def _cose_key(alg: str, key: PrivateKey) -> dict[int, Any]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        numbers = key.public_key().public_numbers()
        return {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {1: 1, 3: -8, -1: 6, -2: raw}


def _auth_data(rp_id: str, flags: int, sign_count: int, attested: bytes = b"") -> bytes:
    return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", sign_count) + attested


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    # The member order browsers use (the spec's "limited verification algorithm" relies on it).
    return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}, separators=(",", ":")).encode()


@dataclass
class Credential:
    id: bytes
    rp_id: str
    user_handle: bytes
    alg: str
    key: PrivateKey
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    """A platform authenticator holding discoverable credentials. `origin` is what the browser
    puts in clientDataJSON. Keyword overrides of `create`/`get`: origin, rp_id, uv, challenge,
    sign_count, alg, credential."""

    origin: str
    alg: str = "ES256"
    uv: bool = True
    backup: bool = False
    aaguid: bytes = field(default_factory=lambda: os.urandom(16))
    credentials: list[Credential] = field(default_factory=list)

    def _flags(self, uv: Optional[bool]) -> int:
        flags = UP | (UV if (self.uv if uv is None else uv) else 0)
        return flags | (BE | BS if self.backup else 0)

    def create(self, options: dict[str, Any], *, origin: Optional[str] = None, rp_id: Optional[str] = None,
               uv: Optional[bool] = None, challenge: Optional[str] = None, alg: Optional[str] = None) -> dict[str, Any]:
        """navigator.credentials.create({publicKey: options}) then credential.toJSON()."""
        alg = alg or self.alg
        rp_id = rp_id or options["rp"]["id"]
        key = _generate(alg)
        cred = Credential(os.urandom(16), rp_id, from_b64u(options["user"]["id"]), alg, key)
        self.credentials.append(cred)
        attested = self.aaguid + struct.pack(">H", len(cred.id)) + cred.id + cbor(_cose_key(alg, key))
        auth_data = _auth_data(rp_id, self._flags(uv) | AT, cred.sign_count, attested)
        client_data = _client_data("webauthn.create", challenge or options["challenge"], origin or self.origin)
        attestation = cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return {
            "id": b64u(cred.id),
            "rawId": b64u(cred.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64u(client_data),
                "authenticatorData": b64u(auth_data),
                "transports": ["hybrid", "internal"],
                "publicKey": b64u(spki),
                "publicKeyAlgorithm": COSE_ALG[alg],
                "attestationObject": b64u(attestation),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    def get(self, options: dict[str, Any], *, origin: Optional[str] = None, rp_id: Optional[str] = None,
            uv: Optional[bool] = None, challenge: Optional[str] = None, sign_count: Optional[int] = None,
            credential: Optional[Credential] = None) -> dict[str, Any]:
        """navigator.credentials.get({publicKey: options}) then credential.toJSON(): the first
        credential of the rp the options allow (any, for usernameless sign-in)."""
        rp_id = rp_id or options["rpId"]
        allowed = [c["id"] for c in options.get("allowCredentials") or []]
        cred = credential or next(c for c in self.credentials if c.rp_id == rp_id and (not allowed or b64u(c.id) in allowed))
        cred.sign_count += 1
        auth_data = _auth_data(rp_id, self._flags(uv), cred.sign_count if sign_count is None else sign_count)
        client_data = _client_data("webauthn.get", challenge or options["challenge"], origin or self.origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        if isinstance(cred.key, ec.EllipticCurvePrivateKey):
            signature = cred.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        else:
            signature = cred.key.sign(signed)
        return {
            "id": b64u(cred.id),
            "rawId": b64u(cred.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64u(client_data),
                "authenticatorData": b64u(auth_data),
                "signature": b64u(signature),
                "userHandle": b64u(cred.user_handle),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }


def tamper(response: dict[str, Any], name: str) -> dict[str, Any]:
    """A copy of `response` with one base64url field's last byte flipped (a tampered signature, ...)."""
    out = copy.deepcopy(response)
    raw = bytearray(from_b64u(out["response"][name]))
    raw[-1] ^= 1
    out["response"][name] = b64u(bytes(raw))
    return out
