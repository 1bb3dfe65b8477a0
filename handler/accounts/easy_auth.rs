//! App Service Authentication ("Easy Auth"): the platform signs the user in (e.g. with Entra
//! ID) and passes the result in `X-MS-CLIENT-PRINCIPAL` (base64 JSON). Anyone can send that
//! header to an app without Easy Auth in front, so it is read only when `TRUST_EASY_AUTH=true`.

use axum::http::HeaderMap;
use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::AccountError;
use crate::{
    domain::{UserId, Username},
    storage::{
        users::{User, UserError},
        wiring::Storage,
        StorageError,
    },
};

const PRINCIPAL_HEADER: &str = "x-ms-client-principal";
const PRINCIPAL_ID_HEADER: &str = "x-ms-client-principal-id";
/// Claim types that carry the provider's stable user id, most specific first.
const ID_CLAIMS: &[&str] = &[
    "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "oid",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
    "sub",
];
const NAME_CLAIMS: &[&str] = &["preferred_username", "name", "email"];

#[derive(Debug, Deserialize)]
struct RawPrincipal {
    auth_typ: Option<String>,
    #[serde(default)]
    claims: Vec<Claim>,
}

#[derive(Debug, Deserialize)]
struct Claim {
    typ: String,
    val: String,
}

/// The signed-in identity as Easy Auth describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub provider: String,
    pub user_id: String,
    pub name: Option<String>,
}

impl Principal {
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, AccountError> {
        let Some(encoded) = headers.get(PRINCIPAL_HEADER) else {
            return Ok(None);
        };
        let invalid = || AccountError::InvalidPrincipal;
        let json = STANDARD.decode(encoded.as_bytes()).map_err(|_| invalid())?;
        let raw: RawPrincipal = serde_json::from_slice(&json).map_err(|_| invalid())?;
        let claim = |types: &[&str]| {
            types.iter().find_map(|typ| {
                raw.claims
                    .iter()
                    .find(|claim| claim.typ.eq_ignore_ascii_case(typ))
                    .map(|claim| claim.val.clone())
            })
        };
        let user_id = claim(ID_CLAIMS)
            .or_else(|| {
                headers
                    .get(PRINCIPAL_ID_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            })
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(invalid)?;
        Ok(Some(Self {
            provider: raw.auth_typ.unwrap_or_else(|| "aad".into()),
            user_id,
            name: claim(NAME_CLAIMS),
        }))
    }

    /// A table key for this identity: provider ids can contain characters keys forbid.
    pub fn key(&self) -> String {
        format!(
            "{:x}",
            Sha256::digest(format!("{}\n{}", self.provider, self.user_id).as_bytes())
        )
    }

    /// A username to start with: from the name claim when it fits the rules, else generated.
    fn username_candidates(&self) -> impl Iterator<Item = Username> + '_ {
        let from_name = self.name.as_deref().and_then(|name| {
            let local = name.split('@').next().unwrap_or(name);
            Username::parse(local).ok()
        });
        let generated = (0..5).filter_map(|_| {
            let suffix = uuid::Uuid::new_v4().simple().to_string();
            Username::parse(&format!("user-{}", &suffix[..12])).ok()
        });
        from_name.into_iter().chain(generated)
    }
}

/// The account for `principal`, created on first sight.
pub async fn account_for(storage: &Storage, principal: &Principal) -> Result<UserId, AccountError> {
    let key = principal.key();
    if let Some(user) = storage.users.find_by_external(&key).await? {
        return Ok(user.id);
    }
    for username in principal.username_candidates() {
        let user = match storage
            .users
            .create(username, None, Some(key.clone()))
            .await
        {
            Ok(user) => user,
            Err(UserError::UsernameTaken) => continue,
            Err(error) => return Err(error.into()),
        };
        return match storage.users.link_external(&key, &user.id).await {
            Ok(()) => Ok(user.id),
            // A concurrent first request created the account: use theirs, drop ours.
            Err(StorageError::AlreadyExists) => {
                // Without its external key, deleting ours leaves the winner's link alone.
                let ours = User {
                    external_key: None,
                    ..user
                };
                let _ = storage.users.delete(&ours).await;
                storage
                    .users
                    .find_by_external(&key)
                    .await?
                    .map(|user| user.id)
                    .ok_or(AccountError::Internal("external identity vanished"))
            }
            Err(error) => Err(error.into()),
        };
    }
    Err(AccountError::Internal("could not find a free username"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(json: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(PRINCIPAL_HEADER, STANDARD.encode(json).parse().unwrap());
        headers
    }

    #[test]
    fn reads_the_object_id_and_name() {
        let principal = Principal::from_headers(&headers(
            r#"{"auth_typ":"aad","claims":[{"typ":"name","val":"Ada Lovelace"},{"typ":"http://schemas.microsoft.com/identity/claims/objectidentifier","val":"00000000-0000-0000-0000-00000000abcd"},{"typ":"preferred_username","val":"ada@example.com"}]}"#,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(principal.provider, "aad");
        assert_eq!(principal.user_id, "00000000-0000-0000-0000-00000000abcd");
        assert_eq!(principal.name.as_deref(), Some("ada@example.com"));
        assert_eq!(
            principal.username_candidates().next().unwrap().as_str(),
            "ada"
        );
    }

    #[test]
    fn garbage_is_a_401_and_absence_is_none() {
        assert!(Principal::from_headers(&HeaderMap::new())
            .unwrap()
            .is_none());
        let mut bad = HeaderMap::new();
        bad.insert(PRINCIPAL_HEADER, "not base64!".parse().unwrap());
        assert!(Principal::from_headers(&bad).is_err());
        assert!(Principal::from_headers(&headers(r#"{"claims":[]}"#)).is_err());
    }
}
