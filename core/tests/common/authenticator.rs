//! A software WebAuthn authenticator for the passkey tests: keys generated here (p256 /
//! ed25519-dalek), and the attestationObject, authenticatorData and clientDataJSON a browser would
//! send built by hand (test code only; the library parses them with webauthn_rp).
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Flags of authenticatorData.
pub const UP: u8 = 0x01;
pub const UV: u8 = 0x04;
pub const BE: u8 = 0x08;
pub const BS: u8 = 0x10;
const AT: u8 = 0x40;

/// A CBOR value, just what COSE keys and attestation objects need.
pub enum Cbor {
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
    Map(Vec<(Cbor, Cbor)>),
}

fn head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

impl Cbor {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Cbor::Int(i) if *i >= 0 => head(0, *i as u64, out),
            Cbor::Int(i) => head(1, (-1 - *i) as u64, out),
            Cbor::Bytes(b) => {
                head(2, b.len() as u64, out);
                out.extend(b);
            }
            Cbor::Text(t) => {
                head(3, t.len() as u64, out);
                out.extend(t.as_bytes());
            }
            Cbor::Map(m) => {
                head(5, m.len() as u64, out);
                for (k, v) in m {
                    k.encode(out);
                    v.encode(out);
                }
            }
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// The key kinds the tests use.
pub enum Key {
    Es256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    /// A P-521 key shape (ES512): the library does not support it.
    Es512,
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).unwrap();
    b
}

impl Key {
    pub fn es256() -> Key {
        Key::Es256(p256::ecdsa::SigningKey::from_slice(&random::<32>()).unwrap())
    }

    pub fn ed25519() -> Key {
        Key::Ed25519(ed25519_dalek::SigningKey::from_bytes(&random::<32>()))
    }

    /// The COSE_Key of the public key.
    pub fn cose(&self) -> Vec<u8> {
        match self {
            Key::Es256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                Cbor::Map(vec![
                    (Cbor::Int(1), Cbor::Int(2)),
                    (Cbor::Int(3), Cbor::Int(-7)),
                    (Cbor::Int(-1), Cbor::Int(1)),
                    (Cbor::Int(-2), Cbor::Bytes(point.x().unwrap().to_vec())),
                    (Cbor::Int(-3), Cbor::Bytes(point.y().unwrap().to_vec())),
                ])
                .bytes()
            }
            Key::Ed25519(k) => Cbor::Map(vec![
                (Cbor::Int(1), Cbor::Int(1)),
                (Cbor::Int(3), Cbor::Int(-8)),
                (Cbor::Int(-1), Cbor::Int(6)),
                (Cbor::Int(-2), Cbor::Bytes(k.verifying_key().to_bytes().to_vec())),
            ])
            .bytes(),
            Key::Es512 => Cbor::Map(vec![
                (Cbor::Int(1), Cbor::Int(2)),
                (Cbor::Int(3), Cbor::Int(-36)),
                (Cbor::Int(-1), Cbor::Int(3)),
                (Cbor::Int(-2), Cbor::Bytes(vec![1; 66])),
                (Cbor::Int(-3), Cbor::Bytes(vec![2; 66])),
            ])
            .bytes(),
        }
    }

    /// The COSE algorithm number.
    pub fn alg(&self) -> i64 {
        match self {
            Key::Es256(_) => -7,
            Key::Ed25519(_) => -8,
            Key::Es512 => -36,
        }
    }

    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        match self {
            Key::Es256(k) => {
                use p256::ecdsa::signature::Signer;
                let s: p256::ecdsa::Signature = k.sign(data);
                s.to_der().as_bytes().to_vec()
            }
            Key::Ed25519(k) => {
                use ed25519_dalek::Signer;
                k.sign(data).to_bytes().to_vec()
            }
            Key::Es512 => vec![0; 64],
        }
    }
}

/// One credential on the authenticator.
pub struct Credential {
    pub id: Vec<u8>,
    pub key: Key,
    /// The user handle given at registration (base64url), returned at sign-in.
    pub user_handle: String,
    pub counter: u32,
}

/// What the "browser" claims: its origin and the rpId it hashes.
pub struct Client {
    pub origin: String,
    pub rp_id: String,
    /// Flags of the next response (UP | UV by default).
    pub flags: u8,
}

impl Client {
    pub fn new(origin: &str, rp_id: &str) -> Client {
        Client { origin: origin.into(), rp_id: rp_id.into(), flags: UP | UV }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false})).unwrap()
    }

    fn rp_hash(&self) -> Vec<u8> {
        Sha256::digest(self.rp_id.as_bytes()).to_vec()
    }

    /// Answers creation options (their JSON form) with a new credential of `key`:
    /// the `RegistrationResponseJSON` and the credential.
    pub fn create(&self, options: &Value, key: Key) -> (Value, Credential) {
        self.create_with_id(options, key, random::<16>().to_vec())
    }

    /// As [`Client::create`] with a chosen credential id.
    pub fn create_with_id(&self, options: &Value, key: Key, id: Vec<u8>) -> (Value, Credential) {
        let challenge = options["challenge"].as_str().unwrap();
        let user_handle = options["user"]["id"].as_str().unwrap().to_string();
        let client_data = self.client_data("webauthn.create", challenge);
        let mut auth_data = self.rp_hash();
        auth_data.push(self.flags | AT);
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0xAA; 16]); // aaguid
        auth_data.extend((id.len() as u16).to_be_bytes());
        auth_data.extend(&id);
        auth_data.extend(key.cose());
        let attestation = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(vec![])),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data.clone())),
        ])
        .bytes();
        let response = json!({
            "id": B64.encode(&id),
            "rawId": B64.encode(&id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": B64.encode(&client_data),
                "attestationObject": B64.encode(&attestation),
                "transports": ["internal", "hybrid"],
                "publicKeyAlgorithm": key.alg(),
                "authenticatorData": B64.encode(&auth_data),
            }
        });
        (response, Credential { id, key, user_handle, counter: 0 })
    }

    /// Answers request options (their JSON form) with an assertion of `cred` (counter + 1).
    pub fn get(&self, options: &Value, cred: &mut Credential) -> Value {
        cred.counter += 1;
        self.get_with_counter(options, cred, cred.counter)
    }

    /// As [`Client::get`] with a chosen counter.
    pub fn get_with_counter(&self, options: &Value, cred: &Credential, counter: u32) -> Value {
        let challenge = options["challenge"].as_str().unwrap();
        let client_data = self.client_data("webauthn.get", challenge);
        let mut auth_data = self.rp_hash();
        auth_data.push(self.flags);
        auth_data.extend(counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature = cred.key.sign(&signed);
        json!({
            "id": B64.encode(&cred.id),
            "rawId": B64.encode(&cred.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": B64.encode(&client_data),
                "authenticatorData": B64.encode(&auth_data),
                "signature": B64.encode(&signature),
                "userHandle": cred.user_handle,
            }
        })
    }
}
