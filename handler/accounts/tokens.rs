//! Bearer tokens: 256 random bits, prefixed by the user id so a lookup is one point read.
//! Only the SHA-256 of the secret part is stored.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::domain::UserId;

const SECRET_BYTES: usize = 32;
const TOKEN_BYTES: usize = 16 + SECRET_BYTES;

/// A new token for `user`: the token to hand out, and the hash to store.
pub fn issue(user: &UserId) -> Result<(Zeroizing<String>, String), getrandom::Error> {
    let mut raw = Zeroizing::new([0u8; TOKEN_BYTES]);
    raw[..16].copy_from_slice(user.uuid().as_bytes());
    getrandom::fill(&mut raw[16..])?;
    let token = Zeroizing::new(URL_SAFE_NO_PAD.encode(raw.as_slice()));
    Ok((token, secret_hash(&raw[16..])))
}

/// The user and secret hash a presented token claims, or `None` if it is not one of ours.
pub fn parse(token: &str) -> Option<(UserId, String)> {
    let raw = Zeroizing::new(URL_SAFE_NO_PAD.decode(token.trim()).ok()?);
    if raw.len() != TOKEN_BYTES {
        return None;
    }
    let id = uuid::Uuid::from_slice(&raw[..16]).ok()?;
    Some((UserId::from_uuid(id), secret_hash(&raw[16..])))
}

fn secret_hash(secret: &[u8]) -> String {
    format!("{:x}", Sha256::digest(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_forgeries_do_not_parse() {
        let user = UserId::generate();
        let (token, hash) = issue(&user).unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(parse(&token), Some((user.clone(), hash.clone())));
        assert!(!hash.contains(token.as_str()));
        let (other, other_hash) = issue(&user).unwrap();
        assert_ne!(*token, *other);
        assert_ne!(hash, other_hash);
        assert_eq!(parse("not a token"), None);
        assert_eq!(parse(&token[..60]), None);
    }
}
