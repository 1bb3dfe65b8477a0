//! How to reach Azure Storage: a connection string (account key, SAS, or
//! `UseDevelopmentStorage=true` for Azurite) or the app's managed identity. Shared by the table
//! backend (and the blob backend to come).

use std::{fmt, sync::Arc, time::Duration};

use azure_core::{ExponentialRetryOptions, RetryOptions, TransportOptions};
use azure_storage::{CloudLocation, ConnectionString, StorageCredentials};

use super::{identity::ManagedIdentityCredential, StorageError};

/// The storage services the app uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Blob,
    Table,
}

impl Service {
    /// The Azurite port `UseDevelopmentStorage=true` means.
    fn emulator_port(self) -> u16 {
        match self {
            Self::Blob => 10000,
            Self::Table => 10002,
        }
    }
}

#[derive(Clone)]
pub enum Connection {
    /// An account connection string. Holds a secret: never logged, never in an error.
    ConnectionString(String),
    /// Entra ID through the managed identity of the app; `client_id` picks a user-assigned one.
    ManagedIdentity {
        account: String,
        client_id: Option<String>,
    },
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConnectionString(_) => f.write_str("ConnectionString(<redacted>)"),
            Self::ManagedIdentity { account, client_id } => f
                .debug_struct("ManagedIdentity")
                .field("account", account)
                .field("client_id", client_id)
                .finish(),
        }
    }
}

impl Connection {
    /// Where the data is, for the start-up line: the account or the endpoints, never a key.
    pub fn describe(&self) -> String {
        match self {
            Self::ManagedIdentity { account, client_id } => format!(
                "Azure Storage account {account} with the managed identity{}",
                client_id
                    .as_ref()
                    .map(|id| format!(" {id}"))
                    .unwrap_or_default()
            ),
            Self::ConnectionString(value) => match ConnectionString::new(value) {
                Ok(parsed) if parsed.use_development_storage == Some(true) => {
                    "Azurite on its default ports (UseDevelopmentStorage=true)".to_owned()
                }
                Ok(parsed) => {
                    let mut parts = Vec::new();
                    if let Some(account) = parsed.account_name {
                        parts.push(format!("account {account}"));
                    }
                    for (service, endpoint) in [
                        ("tables", parsed.table_endpoint),
                        ("blobs", parsed.blob_endpoint),
                    ] {
                        if let Some(endpoint) = endpoint {
                            parts.push(format!("{service} at {endpoint}"));
                        }
                    }
                    format!("Azure Storage, {}", parts.join(", "))
                }
                Err(_) => "Azure Storage (connection string)".to_owned(),
            },
        }
    }
}

/// Why a connection string is unusable. Deliberately never quotes the string: it holds a key.
pub fn check_connection_string(value: &str) -> Result<(), &'static str> {
    let parsed = ConnectionString::new(value)
        .map_err(|_| "`Key=Value;...` pairs (or UseDevelopmentStorage=true)")?;
    if parsed.use_development_storage == Some(true) {
        return Ok(());
    }
    if parsed.account_name.is_none() {
        return Err("an AccountName");
    }
    parsed
        .storage_credentials()
        .map(|_| ())
        .map_err(|_| "an AccountKey or a SharedAccessSignature")
}

impl Connection {
    /// Where a service is and how to authenticate to it.
    pub(crate) fn service(
        &self,
        service: Service,
        http: &reqwest::Client,
    ) -> Result<(CloudLocation, StorageCredentials), StorageError> {
        match self {
            Self::ConnectionString(value) => {
                let invalid = |why: &str| {
                    StorageError::Backend(format!("STORAGE_CONNECTION_STRING is not usable: {why}"))
                };
                let parsed = ConnectionString::new(value)
                    .map_err(|_| invalid("expected `Key=Value;...` pairs"))?;
                if parsed.use_development_storage == Some(true) {
                    return Ok((
                        CloudLocation::Emulator {
                            address: "127.0.0.1".into(),
                            port: service.emulator_port(),
                        },
                        StorageCredentials::emulator(),
                    ));
                }
                let account = parsed
                    .account_name
                    .ok_or_else(|| invalid("AccountName is missing"))?
                    .to_owned();
                let credentials = parsed
                    .storage_credentials()
                    .map_err(|_| invalid("it has neither AccountKey nor SharedAccessSignature"))?;
                let endpoint = match service {
                    Service::Blob => parsed.blob_endpoint,
                    Service::Table => parsed.table_endpoint,
                };
                let location = match endpoint {
                    Some(uri) => CloudLocation::Custom {
                        account,
                        uri: uri.trim_end_matches('/').to_owned(),
                    },
                    None => CloudLocation::Public { account },
                };
                Ok((location, credentials))
            }
            Self::ManagedIdentity { account, client_id } => {
                let credential =
                    ManagedIdentityCredential::from_env(http.clone(), client_id.clone())
                        .map_err(|error| StorageError::Backend(error.to_string()))?;
                Ok((
                    CloudLocation::Public {
                        account: account.clone(),
                    },
                    StorageCredentials::token_credential(Arc::new(credential)),
                ))
            }
        }
    }
}

/// One HTTP client for storage calls: every call has a connect and a total timeout.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, StorageError> {
    reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .build()
        .map_err(|error| StorageError::Backend(format!("cannot build the HTTP client: {error}")))
}

/// The SDK's pipeline, on our client, with retries bounded well inside the host's 230 s.
pub(crate) fn transport(http: &reqwest::Client) -> TransportOptions {
    TransportOptions::new(Arc::new(http.clone()))
}

pub(crate) fn retry(timeout: Duration) -> RetryOptions {
    RetryOptions::exponential(
        ExponentialRetryOptions::default()
            .max_retries(3u32)
            .initial_delay(Duration::from_millis(100))
            .max_delay(Duration::from_secs(2))
            .max_total_elapsed(timeout * 2),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_are_checked_without_quoting_them() {
        assert!(check_connection_string("UseDevelopmentStorage=true").is_ok());
        assert!(check_connection_string(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net"
        )
        .is_ok());
        let error = check_connection_string("AccountKey=c2VjcmV0").unwrap_err();
        assert!(!error.contains("c2VjcmV0"));
        assert!(check_connection_string("not a connection string").is_err());
        assert!(check_connection_string("AccountName=acct").is_err());
    }

    #[test]
    fn debug_never_shows_the_connection_string() {
        let connection = Connection::ConnectionString("AccountKey=c2VjcmV0".into());
        assert!(!format!("{connection:?}").contains("c2VjcmV0"));
    }
}
