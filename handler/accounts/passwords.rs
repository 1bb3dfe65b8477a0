//! Password hashing with argon2id at OWASP's parameters, off the async runtime, on a small
//! pool of low-priority threads, so a burst of logins cannot slow other requests.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    mpsc, Arc, Mutex, OnceLock,
};

use argon2::{
    password_hash::{phc::PasswordHash, PasswordHasher, PasswordVerifier},
    Algorithm, Argon2, Params, Version,
};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
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
    /// The hashing queue is full: answer at once rather than wait behind it.
    #[error("too many password checks are waiting")]
    Overloaded,
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

/// Niceness of the hashing threads: the scheduler runs request handling first and hashes
/// with whatever CPU is left (argon2 is deliberately slow; a login can wait, a page should not).
const HASHING_NICENESS: i32 = 19;

/// Jobs that may wait per hashing thread. Each waiting job costs a request its latency (tens
/// of milliseconds per job ahead of it) but little memory; beyond this a check is refused at
/// once with 503, so a flood of logins cannot queue unbounded work.
const QUEUED_PER_THREAD: usize = 16;

type Job = Box<dyn FnOnce() + Send>;

/// The queue of the hashing threads, started on first use. Its places are counted by a
/// semaphore, so a caller can make sure of one before doing anything that should not happen
/// when the queue is full (spending a lockout attempt).
#[derive(Debug, Clone)]
pub struct Passwords {
    jobs: Arc<OnceLock<mpsc::SyncSender<Job>>>,
    places: Arc<Semaphore>,
    /// Hashes and verifications actually run: what the lockout and the queue bound.
    runs: Arc<AtomicU64>,
}

/// A place in the hashing queue, held until the job has run (or been skipped).
#[derive(Debug)]
pub struct Place(#[allow(dead_code)] OwnedSemaphorePermit);

fn threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    cores.saturating_sub(1).max(1)
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
        Self {
            jobs: Arc::new(OnceLock::new()),
            // Each thread's job in hand plus its waiting ones.
            places: Arc::new(Semaphore::new(threads() * (QUEUED_PER_THREAD + 1))),
            runs: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many hashes and verifications have run since start.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// A place in the queue, or [`PasswordError::Overloaded`] at once when there is none.
    pub fn place(&self) -> Result<Place, PasswordError> {
        Arc::clone(&self.places)
            .try_acquire_owned()
            .map(Place)
            .map_err(|_| PasswordError::Overloaded)
    }

    /// Like `spawn_blocking`, but on dedicated threads: at most `cores - 1` (each hash takes
    /// ~19 MiB and a core for tens of milliseconds), each at the lowest CPU priority.
    fn pool(&self) -> &mpsc::SyncSender<Job> {
        self.jobs.get_or_init(|| {
            let threads = threads();
            // Never full: the places above admit fewer jobs than it holds.
            let (sender, receiver) = mpsc::sync_channel::<Job>(threads * (QUEUED_PER_THREAD + 1));
            let receiver = Arc::new(Mutex::new(receiver));
            for n in 0..threads {
                let receiver = Arc::clone(&receiver);
                let spawned = std::thread::Builder::new()
                    .name(format!("argon2-{n}"))
                    .spawn(move || {
                        lower_priority();
                        loop {
                            // The lock is held only while waiting for the next job.
                            let job = match receiver.lock() {
                                Ok(receiver) => receiver.recv(),
                                Err(_) => return,
                            };
                            match job {
                                Ok(job) => job(),
                                Err(_) => return,
                            }
                        }
                    });
                if let Err(error) = spawned {
                    tracing::error!(%error, "cannot start a password hashing thread");
                }
            }
            sender
        })
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
        place: Place,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let (done, result) = oneshot::channel();
        let runs = Arc::clone(&self.runs);
        let job: Job = Box::new(move || {
            let _place = place;
            // The request gave up (client gone, deadline passed): nobody wants the answer.
            if done.is_closed() {
                return;
            }
            runs.fetch_add(1, Ordering::Relaxed);
            let _ = done.send(work());
        });
        let unavailable = || PasswordError::Hashing("the hashing threads are gone".into());
        self.pool().try_send(job).map_err(|error| match error {
            mpsc::TrySendError::Full(_) => PasswordError::Overloaded,
            mpsc::TrySendError::Disconnected(_) => unavailable(),
        })?;
        result.await.map_err(|_| unavailable())
    }

    /// A PHC string for `password` with a fresh 16-byte salt. The password is wiped after.
    pub async fn hash(&self, password: Zeroizing<String>) -> Result<String, PasswordError> {
        let mut salt = [0u8; SALT_BYTES];
        getrandom::fill(&mut salt).map_err(|error| PasswordError::Hashing(error.to_string()))?;
        self.blocking(self.place()?, move || {
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
        self.verify_in(self.place()?, password, stored).await
    }

    /// [`Passwords::verify`] in a place taken beforehand with [`Passwords::place`].
    pub async fn verify_in(
        &self,
        place: Place,
        password: Zeroizing<String>,
        stored: Option<String>,
    ) -> Result<Verified, PasswordError> {
        let real = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        self.blocking(place, move || {
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

/// Makes the calling thread the last in line for the CPU (Linux: niceness is per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments; `0` means the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, HASHING_NICENESS);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use futures::FutureExt;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_an_abandoned_job_is_skipped() {
        let passwords = Passwords::new();
        // Occupy every hashing thread until `release` is dropped.
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let mut busy = Vec::new();
        for _ in 0..threads() {
            let (passwords, release_rx, started_tx) =
                (passwords.clone(), release_rx.clone(), started_tx.clone());
            let place = passwords.place().expect("a place");
            busy.push(tokio::spawn(async move {
                passwords
                    .blocking(place, move || {
                        let _ = started_tx.send(());
                        let _ = release_rx.lock().map(|rx| rx.recv());
                    })
                    .await
            }));
        }
        for _ in 0..threads() {
            started_rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("a hashing thread took the job");
        }
        // One job whose request goes away while it waits, polled once (which queues it) and
        // dropped, as when a client hangs up; then every other place taken.
        let abandoned_ran = Arc::new(AtomicBool::new(false));
        let flag = abandoned_ran.clone();
        let abandoned = passwords
            .blocking(passwords.place().expect("a place"), move || {
                flag.store(true, Ordering::SeqCst)
            })
            .now_or_never();
        assert!(abandoned.is_none(), "it waits behind the busy threads");
        let mut held = Vec::new();
        while let Ok(place) = passwords.place() {
            held.push(place);
        }
        assert!(matches!(
            passwords.verify(Zeroizing::new("x".into()), None).await,
            Err(PasswordError::Overloaded)
        ));
        drop(held);
        drop(release_tx);
        for task in busy {
            task.await.expect("task").expect("job");
        }
        // Jobs run in order: once this one has run, the abandoned one has had its turn.
        let place = passwords.place().expect("a place");
        passwords
            .blocking(place, || ())
            .await
            .expect("the queue drains");
        assert!(
            !abandoned_ran.load(Ordering::SeqCst),
            "a job whose request was gone was run"
        );
    }

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
