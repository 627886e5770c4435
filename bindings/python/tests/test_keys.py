"""Key rings from Python (docs/tokens.md, "Key rotation"): rotation with a live session, the JWKS,
stateless verification, resealAll — and interop with PyJWT both ways: our tokens verify in PyJWT
from the JWKS, PyJWT's tokens verify here exactly when they should."""

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

import accounts
from conftest import FAST

KEYS = Path(__file__).resolve().parents[3] / "core" / "tests" / "keys"
SEALING = "python-sealing-secret-0123456789abcdef"
HMAC = {"kid": "h1", "algorithm": "HS256", "secret": "python-ring-secret-0123456789abcdef-01"}


def pair(kid, algorithm, kind):
    return {
        "kid": kid,
        "algorithm": algorithm,
        "privateKey": (KEYS / f"{kind}.pem").read_text(),
        "publicKey": (KEYS / f"{kind}.pub.pem").read_text(),
    }


def ringed(current, *keys):
    return accounts.AccountsServer(
        db="sqlite::memory:", token_keys={"current": current, "keys": list(keys)}, sealing_secret=SEALING, services=FAST
    )


def login(server, name="kim"):
    uid = server.password.create_user({"username": name, "password": "correct horse"})
    return uid, server.login_with_user(uid)


def test_rotation_with_a_live_session_and_the_jwks():
    server = ringed("h1", HMAC)
    uid, first = login(server)
    assert server.get_jwks() == {"keys": []}, "an HMAC key is never published"
    server.set_keys({"current": "ed", "keys": [HMAC, pair("ed", "EdDSA", "ed")]})
    assert server.resume_session(first["tokens"]["accessToken"])["id"] == uid
    second = server.refresh_tokens(first["tokens"]["accessToken"], first["tokens"]["refreshToken"])
    assert jwt.get_unverified_header(second["tokens"]["accessToken"])["kid"] == "ed"
    server.set_keys({"current": "ed", "keys": [pair("ed", "EdDSA", "ed")]})
    with pytest.raises(accounts.TokenVerificationFailed):
        server.resume_session(first["tokens"]["accessToken"])
    assert server.resume_session(second["tokens"]["accessToken"])["id"] == uid
    assert [k["kid"] for k in server.get_jwks()["keys"]] == ["ed"]
    with pytest.raises(accounts.InvalidConfig):
        server.set_keys({"current": "missing", "keys": [HMAC]})
    assert server.reseal_all() == 0


@pytest.mark.parametrize("kind,algorithm", [("ed", "EdDSA"), ("ec", "ES256"), ("rsa", "RS256")])
def test_our_tokens_verify_in_pyjwt_from_the_jwks(kind, algorithm):
    server = ringed("k", pair("k", algorithm, kind))
    uid, session = login(server)
    token = session["tokens"]["accessToken"]
    key = jwt.PyJWKSet.from_dict(server.get_jwks())["k"].key
    claims = jwt.decode(token, key, algorithms=[algorithm])
    assert claims["sub"] == uid and claims["data"]["userId"] == uid and claims["typ"] == "access"
    assert accounts.verify_access_token(token, jwks=server.get_jwks())["sub"] == uid


def pyjwt_token(key, algorithm, kid, **extra):
    now = int(time.time())
    claims = {"sub": "u1", "data": {"userId": "u1", "sessionId": "s1", "isImpersonated": False}, "typ": "access", "iat": now, "exp": now + 60}
    claims.update(extra)
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def confused_hs256(secret, kid):
    """An HS256 token keyed with `secret` (PyJWT itself refuses to use a public key so)."""
    def b64(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64(json.dumps({"sub": "u1", "typ": "access", "exp": int(time.time()) + 60}).encode())
    signature = b64(hmac.new(secret, header + b"." + payload, hashlib.sha256).digest())
    return (header + b"." + payload + b"." + signature).decode()


def test_pyjwt_tokens_are_accepted_exactly_when_they_should_be():
    server = ringed("ed", pair("ed", "EdDSA", "ed"))
    jwks = server.get_jwks()
    private = (KEYS / "ed.pem").read_text()
    good = pyjwt_token(private, "EdDSA", "ed")
    assert accounts.verify_access_token(good, jwks=jwks)["sub"] == "u1"
    stranger = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    other_ec = ec.generate_private_key(ec.SECP256R1())
    refused = [
        pyjwt_token(stranger, "EdDSA", "ed"),  # another key under our kid
        pyjwt_token(private, "EdDSA", "nope"),  # a kid we do not have
        pyjwt_token(other_ec, "ES256", "ed"),  # another algorithm under our kid
        confused_hs256((KEYS / "ed.pub.pem").read_bytes(), "ed"),  # the public key as an HMAC secret
        pyjwt_token(private, "EdDSA", "ed", typ="refresh"),  # not an access token
        pyjwt_token(private, "EdDSA", "ed", exp=int(time.time()) - 10),  # expired
        jwt.encode({"sub": "u1", "typ": "access", "exp": int(time.time()) + 60}, None, algorithm="none"),
    ]
    for token in refused:
        with pytest.raises(accounts.TokenVerificationFailed):
            accounts.verify_access_token(token, jwks=jwks)
    with pytest.raises(accounts.TokenVerificationFailed):
        server.resume_session(pyjwt_token(stranger, "EdDSA", "ed"))
