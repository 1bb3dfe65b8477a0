//! The app's managed identity, as App Service and Azure Functions (Flex Consumption included)
//! expose it: `GET $IDENTITY_ENDPOINT?resource=...&api-version=2019-08-01[&client_id=...]` with
//! the `X-IDENTITY-HEADER: $IDENTITY_HEADER` secret.
//!
//! Written here because `azure_identity` 0.21 (the last release compatible with the storage
//! crates' `azure_core` 0.21) hard-codes the system-assigned identity for App Service, and the
//! app runs with a user-assigned one (`AZURE_CLIENT_ID`).

use std::time::Duration;

use async_trait::async_trait;
use azure_core::{
    auth::{AccessToken, Secret, TokenCredential},
    error::{Error, ErrorKind},
};
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::sync::Mutex;

const API_VERSION: &str = "2019-08-01";
/// Refresh this long before expiry, so a token never expires mid-request.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

pub struct ManagedIdentityCredential {
    http: reqwest::Client,
    endpoint: String,
    secret: String,
    client_id: Option<String>,
    /// The last token and the resource it is for.
    cached: Mutex<Option<(String, AccessToken)>>,
}

impl std::fmt::Debug for ManagedIdentityCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentityCredential")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Unix seconds, sent as a string by App Service.
    #[serde(deserialize_with = "seconds_from_string_or_number")]
    expires_on: i64,
}

fn seconds_from_string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Number(i64),
    }
    match Either::deserialize(d)? {
        Either::Number(n) => Ok(n),
        Either::Text(text) => text.trim().parse().map_err(serde::de::Error::custom),
    }
}

impl ManagedIdentityCredential {
    /// Reads `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`, which the platform sets when the app has
    /// a managed identity.
    pub fn from_env(http: reqwest::Client, client_id: Option<String>) -> Result<Self, Error> {
        let var = |name: &str| {
            std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or_else(|| {
                Error::message(
                    ErrorKind::Credential,
                    format!("{name} is not set: the app has no managed identity (or set STORAGE_CONNECTION_STRING)"),
                )
            })
        };
        Ok(Self::new(
            http,
            var("IDENTITY_ENDPOINT")?,
            var("IDENTITY_HEADER")?,
            client_id,
        ))
    }

    pub fn new(
        http: reqwest::Client,
        endpoint: String,
        secret: String,
        client_id: Option<String>,
    ) -> Self {
        Self {
            http,
            endpoint,
            secret,
            client_id,
            cached: Mutex::new(None),
        }
    }

    async fn fetch(&self, resource: &str) -> Result<AccessToken, Error> {
        let mut query = vec![("api-version", API_VERSION), ("resource", resource)];
        if let Some(client_id) = &self.client_id {
            query.push(("client_id", client_id));
        }
        let failed = |why: String| Error::message(ErrorKind::Credential, why);
        let response = self
            .http
            .get(&self.endpoint)
            .query(&query)
            .header("X-IDENTITY-HEADER", &self.secret)
            .send()
            .await
            .map_err(|e| {
                failed(format!(
                    "managed identity endpoint unreachable: {}",
                    e.without_url()
                ))
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(format!(
                "managed identity endpoint answered {status}"
            )));
        }
        let token: TokenResponse = response.json().await.map_err(|e| {
            failed(format!(
                "unreadable managed identity token: {}",
                e.without_url()
            ))
        })?;
        let expires_on = OffsetDateTime::from_unix_timestamp(token.expires_on)
            .map_err(|e| failed(format!("bad token expiry: {e}")))?;
        Ok(AccessToken::new(
            Secret::new(token.access_token),
            expires_on,
        ))
    }
}

/// `https://storage.azure.com/.default` → `https://storage.azure.com/`: the endpoint wants a
/// resource, the SDK passes scopes.
fn resource_of(scopes: &[&str]) -> Result<String, Error> {
    match scopes {
        [scope] => Ok(scope
            .strip_suffix("/.default")
            .map_or_else(|| (*scope).to_owned(), |resource| format!("{resource}/"))),
        _ => Err(Error::message(
            ErrorKind::Credential,
            "managed identity takes exactly one scope",
        )),
    }
}

#[async_trait]
impl TokenCredential for ManagedIdentityCredential {
    async fn get_token(&self, scopes: &[&str]) -> azure_core::Result<AccessToken> {
        let resource = resource_of(scopes)?;
        // One refresh at a time: concurrent requests wait for it instead of stampeding.
        let mut cached = self.cached.lock().await;
        if let Some((for_resource, token)) = cached.as_ref() {
            if *for_resource == resource
                && token.expires_on - REFRESH_MARGIN > OffsetDateTime::now_utc()
            {
                return Ok(token.clone());
            }
        }
        let token = self.fetch(&resource).await?;
        *cached = Some((resource, token.clone()));
        Ok(token)
    }

    async fn clear_cache(&self) -> azure_core::Result<()> {
        *self.cached.lock().await = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::resource_of;

    #[test]
    fn scopes_become_resources() {
        assert_eq!(
            resource_of(&["https://storage.azure.com/.default"]).unwrap(),
            "https://storage.azure.com/"
        );
        assert!(resource_of(&[]).is_err());
    }
}
