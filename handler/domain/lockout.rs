//! The lockout rule for every password check (login, and the re-authentication that changing
//! the password or erasing the account asks for): an attempt is reserved before the password is
//! verified, so a burst of concurrent guesses cannot outrun the count.

/// At most this many password checks per account (or unknown name) within
/// [`LOCKOUT_WINDOW_SECS`]; the one that spends the allowance locks it for [`LOCK_SECS`].
pub const MAX_ATTEMPTS: u32 = 5;
pub const LOCKOUT_WINDOW_SECS: i64 = 15 * 60;
pub const LOCK_SECS: i64 = 15 * 60;

/// The attempts counted against one account or name, in Unix seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attempts {
    pub count: u32,
    pub since: Option<i64>,
    pub locked_until: Option<i64>,
}

/// The allowance is spent: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub retry_after_secs: u64,
}

/// A reserved attempt. `last` is set when it spent the allowance: if its password is wrong, the
/// answer is the lock, not a plain refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub last: bool,
}

impl Attempts {
    /// Counts one more check at `now`, or refuses while locked. Store the result before
    /// verifying anything.
    pub fn reserve(&mut self, now: i64) -> Result<Reservation, Locked> {
        if let Some(locked) = self.lock(now) {
            return Err(locked);
        }
        let in_window = self
            .since
            .is_some_and(|since| now - since < LOCKOUT_WINDOW_SECS);
        let count = if in_window { self.count + 1 } else { 1 };
        if count >= MAX_ATTEMPTS {
            *self = Self {
                count: 0,
                since: None,
                locked_until: Some(now + LOCK_SECS),
            };
            return Ok(Reservation { last: true });
        }
        *self = Self {
            count,
            since: if in_window { self.since } else { Some(now) },
            locked_until: None,
        };
        Ok(Reservation { last: false })
    }

    /// The lock in force at `now`, if any; changes nothing.
    pub fn lock(&self, now: i64) -> Option<Locked> {
        self.locked_until
            .filter(|until| *until > now)
            .map(|until| Locked {
                retry_after_secs: u64::try_from(until - now).unwrap_or(1).max(1),
            })
    }

    /// After a correct password: the count starts again, but only if it is still what our own
    /// reservation left (`reserved`). Checks that overlapped ours stay counted, and a lock
    /// they set stays: one correct password must not wipe a burst of guesses around it.
    pub fn settle_success(&mut self, reserved: &Attempts) {
        if self == reserved {
            *self = Self::default();
        }
    }

    /// The lock a failed check on the last reservation leaves, as an answer.
    pub fn lock_answer() -> Locked {
        Locked {
            retry_after_secs: LOCK_SECS as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_is_spent_by_reservations_not_failures() {
        let mut attempts = Attempts::default();
        for _ in 1..MAX_ATTEMPTS {
            assert_eq!(attempts.reserve(1000), Ok(Reservation { last: false }));
        }
        assert_eq!(attempts.reserve(1000), Ok(Reservation { last: true }));
        assert_eq!(
            attempts.reserve(1001),
            Err(Locked {
                retry_after_secs: (LOCK_SECS - 1) as u64
            })
        );
        // The lock ends, and a new window starts.
        let later = 1000 + LOCK_SECS;
        assert_eq!(attempts.reserve(later), Ok(Reservation { last: false }));
        assert_eq!(attempts.count, 1);
    }

    #[test]
    fn a_correct_password_clears_only_its_own_reservation() {
        let mut attempts = Attempts::default();
        attempts.reserve(0).unwrap();
        attempts.reserve(0).unwrap();
        let ours = attempts;
        // Nothing overlapped: the count starts again.
        let mut alone = ours;
        alone.settle_success(&ours);
        assert_eq!(alone, Attempts::default());
        // Guesses reserved while ours was verified, up to the lock: all of it stays.
        let mut overlapped = ours;
        for _ in 0..MAX_ATTEMPTS {
            let _ = overlapped.reserve(0);
        }
        let before = overlapped;
        overlapped.settle_success(&ours);
        assert_eq!(overlapped, before);
        assert!(overlapped.locked_until.is_some());
    }

    #[test]
    fn old_attempts_fall_out_of_the_window() {
        let mut attempts = Attempts::default();
        for _ in 1..MAX_ATTEMPTS {
            attempts.reserve(0).unwrap();
        }
        assert_eq!(
            attempts.reserve(LOCKOUT_WINDOW_SECS),
            Ok(Reservation { last: false })
        );
        assert_eq!(attempts.count, 1);
    }
}
