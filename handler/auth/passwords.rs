//! Password hashing with argon2id at OWASP's parameters, off the async runtime and never more
//! than the machine can spare at once, so hashing cannot starve request handling.

use std::sync::Arc;

use argon2::{
    password_hash::{phc::PasswordHash, PasswordHasher, PasswordVerifier},
    Algorithm, Argon2, Params, Version,
};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;
pub const SALT_BYTES: usize = 16;

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A well-formed hash with the parameters above whose output was never produced from any
/// password. Logins for unknown users are verified against it: they do the same argon2 work as
/// real ones (no user enumeration by timing) and can never succeed.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$bm90LWEtcmVhbC1zYWx0IQ$TU5+aP1IqJhN7dElvEbDgWDgxGSuPNU2UJAv8dJcd/o";

/// The most common passwords of 12 or more characters (from public breach corpora).
const COMMON: &str = include_str!("common_passwords.txt");

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("{0}")]
    Weak(String),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but hashed with other parameters: store a fresh hash.
    YesRehash,
}

#[derive(Debug, Clone)]
pub struct Passwords {
    /// Hashes at once; each takes ~19 MiB and a core for tens of milliseconds.
    permits: Arc<Semaphore>,
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

fn argon2() -> Argon2<'static> {
    // The constants are valid parameters; `Params::DEFAULT` is the same OWASP set.
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Whether a stored hash uses exactly today's algorithm and parameters.
fn is_current(hash: &PasswordHash) -> bool {
    hash.algorithm.as_str() == "argon2id"
        && Params::try_from(hash).is_ok_and(|params| {
            params.m_cost() == M_COST_KIB && params.t_cost() == T_COST && params.p_cost() == P_COST
        })
}

impl Passwords {
    pub fn new() -> Self {
        // Leave a core to the async runtime: /api/hello must stay fast during a login storm.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            permits: Arc::new(Semaphore::new(cores.saturating_sub(1).max(1))),
        }
    }

    /// Checks the policy: length, not the username, not a common password.
    pub fn check_policy(password: &str, username: &str) -> Result<(), PasswordError> {
        let chars = password.chars().count();
        if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
            return Err(PasswordError::Weak(format!(
                "password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
            )));
        }
        if password.eq_ignore_ascii_case(username) {
            return Err(PasswordError::Weak(
                "password may not be the username".into(),
            ));
        }
        let lowered = password.to_lowercase();
        if COMMON.lines().any(|common| common.trim() == lowered) {
            return Err(PasswordError::Weak(
                "that password is one of the most common ones; choose another".into(),
            ));
        }
        Ok(())
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|error| PasswordError::Hashing(error.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|error| PasswordError::Hashing(error.to_string()))
    }

    /// A PHC string for `password` with a fresh 16-byte salt. The password is wiped after.
    pub async fn hash(&self, password: Zeroizing<String>) -> Result<String, PasswordError> {
        let mut salt = [0u8; SALT_BYTES];
        getrandom::fill(&mut salt).map_err(|error| PasswordError::Hashing(error.to_string()))?;
        self.blocking(move || {
            argon2()
                .hash_password_with_salt(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|error| PasswordError::Hashing(error.to_string()))
        })
        .await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// account, taking the same time either way.
    pub async fn verify(
        &self,
        password: Zeroizing<String>,
        stored: Option<String>,
    ) -> Result<Verified, PasswordError> {
        let real = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        self.blocking(move || {
            let Ok(hash) = PasswordHash::new(&phc) else {
                return Verified::No;
            };
            let matches = argon2().verify_password(password.as_bytes(), &hash).is_ok();
            match (real && matches, is_current(&hash)) {
                (false, _) => Verified::No,
                (true, true) => Verified::Yes,
                (true, false) => Verified::YesRehash,
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let dummy = PasswordHash::new(DUMMY_HASH).expect("valid PHC");
        assert!(is_current(&dummy), "DUMMY_HASH must use today's parameters");
    }

    #[test]
    fn policy() {
        assert!(Passwords::check_policy("short", "ada").is_err());
        assert!(Passwords::check_policy(&"x".repeat(1025), "ada").is_err());
        assert!(Passwords::check_policy("ada.lovelace1", "Ada.Lovelace1").is_err());
        assert!(Passwords::check_policy("Password1234", "ada").is_err());
        assert!(Passwords::check_policy("correct horse battery staple", "ada").is_ok());
    }

    #[tokio::test]
    async fn hash_verify_and_rehash() {
        let passwords = Passwords::new();
        let hash = passwords
            .hash(Zeroizing::new("correct horse battery staple".into()))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let salt = hash.split('$').nth(4).unwrap();
        assert_eq!(salt.len(), 22, "16 bytes of salt in unpadded base64");
        let check = |pw: &str, stored: Option<String>| {
            passwords.verify(Zeroizing::new(pw.to_owned()), stored)
        };
        assert_eq!(
            check("correct horse battery staple", Some(hash.clone()))
                .await
                .unwrap(),
            Verified::Yes
        );
        assert_eq!(
            check("wrong horse battery staple", Some(hash))
                .await
                .unwrap(),
            Verified::No
        );
        assert_eq!(check("anything at all!", None).await.unwrap(), Verified::No);

        let weaker = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password_with_salt(b"correct horse battery staple", b"0123456789abcdef")
        .unwrap()
        .to_string();
        assert_eq!(
            check("correct horse battery staple", Some(weaker))
                .await
                .unwrap(),
            Verified::YesRehash
        );
    }
}
