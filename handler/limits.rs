//! The limits the Functions host imposes, enforced here too so local runs behave like Azure.
//! Imports nothing: config, errors and the host adapter all read these.

use std::time::Duration;

/// The host rejects request bodies over 100 MB (104,857,600 bytes).
pub const MAX_BODY_BYTES: usize = 100 * 1024 * 1024;
/// The host rejects URLs over 4 KB.
pub const MAX_URL_BYTES: usize = 4096;
/// Azure's load balancer drops a response that has not started within 230 s.
pub const RESPONSE_DEADLINE: Duration = Duration::from_secs(230);
