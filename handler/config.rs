//! Typed settings, read once at start from the environment (and `--port`), validated before
//! anything listens. [`SETTINGS`] is the single list of every variable the handler reads: the
//! README's configuration table and the infra drift test are both checked against it.

use std::{path::PathBuf, time::Duration};

use thiserror::Error;

use crate::{
    storage::{self, azure::Connection, Backend, StorageConfig},
    tfl::TflConfig,
};

/// Port `func start` listens on by default, so local URLs look the same with or without the host.
pub const DEFAULT_PORT: u16 = 7071;

/// Who is expected to provide a setting in Azure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deploy {
    /// `infra/` must set it as an app setting of the function app.
    AppSetting,
    /// The Functions host sets it for the handler process.
    Host,
    /// Has a sensible default; set it only to tune or for local runs.
    LocalOnly,
}

/// One environment variable the handler reads.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub name: &'static str,
    pub default: Option<&'static str>,
    pub description: &'static str,
    pub deploy: Deploy,
}

pub const FUNCTIONS_CUSTOMHANDLER_PORT: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";
pub const PORT: &str = "PORT";
pub const LOG_FORMAT: &str = "LOG_FORMAT";
pub const RUST_LOG: &str = "RUST_LOG";
pub const SHUTDOWN_TIMEOUT_SECS: &str = "SHUTDOWN_TIMEOUT_SECS";
pub const STORAGE_CONNECTION_STRING: &str = "STORAGE_CONNECTION_STRING";
pub const STORAGE_ACCOUNT_NAME: &str = "STORAGE_ACCOUNT_NAME";
pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
pub const RECORDS_TABLE: &str = "RECORDS_TABLE";
pub const DATA_DIR: &str = "DATA_DIR";
pub const UPLOADS_CONTAINER: &str = "UPLOADS_CONTAINER";
pub const USERS_TABLE: &str = "USERS_TABLE";
pub const SESSIONS_TABLE: &str = "SESSIONS_TABLE";
pub const SESSION_TTL: &str = "SESSION_TTL";
pub const TRUST_EASY_AUTH: &str = "TRUST_EASY_AUTH";
pub const UPLOAD_MAX_BYTES: &str = "UPLOAD_MAX_BYTES";
pub const STORAGE_TIMEOUT_MS: &str = "STORAGE_TIMEOUT_MS";
pub const TFL_API_BASE: &str = "TFL_API_BASE";
pub const TFL_APP_KEY: &str = "TFL_APP_KEY";
pub const TFL_CONNECT_TIMEOUT_MS: &str = "TFL_CONNECT_TIMEOUT_MS";
pub const TFL_TIMEOUT_MS: &str = "TFL_TIMEOUT_MS";

/// TfL's public endpoint; tests and local runs point `TFL_API_BASE` at a replay server.
pub const DEFAULT_TFL_API_BASE: &str = "https://api.tfl.gov.uk";

pub const SETTINGS: &[Setting] = &[
    Setting {
        name: FUNCTIONS_CUSTOMHANDLER_PORT,
        default: None,
        description: "Port the Functions host tells the handler to listen on (127.0.0.1). Wins over `--port` and `PORT`.",
        deploy: Deploy::Host,
    },
    Setting {
        name: PORT,
        default: Some("7071"),
        description: "Port for plain `cargo run` when the host does not set one; `--port` wins over it.",
        deploy: Deploy::LocalOnly,
    },
    Setting {
        name: LOG_FORMAT,
        default: Some("text"),
        description: "`text` for humans, `json` for one JSON object per line (what Azure's log pipeline wants).",
        deploy: Deploy::AppSetting,
    },
    Setting {
        name: RUST_LOG,
        default: Some("info"),
        description: "Log filter in `tracing` syntax, e.g. `handler=debug,info`.",
        deploy: Deploy::LocalOnly,
    },
    Setting {
        name: SHUTDOWN_TIMEOUT_SECS,
        default: Some("10"),
        description: "On SIGTERM/SIGINT, how long in-flight requests may take to finish before the process exits.",
        deploy: Deploy::LocalOnly,
    },
    Setting {
        name: STORAGE_CONNECTION_STRING,
        default: None,
        description: "Azure Storage connection string (account key or SAS), or `UseDevelopmentStorage=true` for Azurite. A secret: never logged.",
        deploy: Deploy::LocalOnly,
    },
    Setting {
        name: STORAGE_ACCOUNT_NAME,
        default: None,
        description: "Storage account reached with the app's managed identity (no keys). Used when no connection string is set.",
        deploy: Deploy::AppSetting,
    },
    Setting {
        name: AZURE_CLIENT_ID,
        default: None,
        description: "Client id of the user-assigned managed identity to use for storage; unset = the system-assigned one.",
        deploy: Deploy::AppSetting,
    },
    Setting {
        name: RECORDS_TABLE,
        default: Some("records"),
        description: "Table holding the records (created at start if missing).",
        deploy: Deploy::AppSetting,
    },
    Setting {
        name: USERS_TABLE,
        default: Some("users"),
        description: "Table holding accounts (created at start if missing).",
        deploy: Deploy::AppSetting,
    },
    Setting {
        name: SESSIONS_TABLE,
        default: Some("sessions"),
        description: "Table holding sessions (hashes of bearer tokens; created at start if missing).",
        deploy: Deploy::AppSetting,
    },
    Setting {
        name: SESSION_TTL,
        default: Some("1h"),
        description: "How long a login token is valid: seconds, or a number with `s`, `m`, `h` or `d`.",
        deploy: Deploy::LocalOnly,
    },
    Setting {
        name: TRUST_EASY_AUTH,
        default: Some("false"),
        description: "`true` only behind App Service Authentication: then `X-MS-CLIENT-PRINCIPAL` identifies the user (anyone can forge it otherwise).",
        deploy: Deploy::AppSetting,
    },
    Setting {
        name: UPLOADS_CONTAINER,
        default: Some("uploads"),
        description: "Blob container holding uploaded files (created at start if missing).",
        deploy: Deploy::AppSetting,
    },
    Setting {
        name: UPLOAD_MAX_BYTES,
        default: Some("104857600"),
        description: "Largest file `upload` accepts, in bytes (at most the host's 100 MB request limit).",
        deploy: Deploy::LocalOnly,
    },
    Setting {
        name: DATA_DIR,
        default: Some("./.data"),
        description: "Where the embedded backend (used when neither storage variable above is set) keeps its SQLite file.",
        deploy: Deploy::LocalOnly,
    },
    Setting {
        name: STORAGE_TIMEOUT_MS,
        default: Some("10000"),
        description: "Timeout of each call to Azure Storage (connect timeout: the smaller of this and 5 s).",
        deploy: Deploy::LocalOnly,
    },
    Setting {
        name: TFL_API_BASE,
        default: Some(DEFAULT_TFL_API_BASE),
        description: "Base URL of the TfL Unified API (`http` or `https`); point it at a replay server for local runs.",
        deploy: Deploy::LocalOnly,
    },
    Setting {
        name: TFL_APP_KEY,
        default: Some(""),
        description: "TfL app key, sent as the `app_key` query parameter and never logged. Empty: call TfL anonymously (lower rate limit).",
        deploy: Deploy::AppSetting,
    },
    Setting {
        name: TFL_CONNECT_TIMEOUT_MS,
        default: Some("2000"),
        description: "How long a TCP + TLS connection to TfL may take, in milliseconds.",
        deploy: Deploy::LocalOnly,
    },
    Setting {
        name: TFL_TIMEOUT_MS,
        default: Some("5000"),
        description: "Total budget for one TfL call, retry included, in milliseconds; past it the request answers 504.",
        deploy: Deploy::LocalOnly,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub shutdown_timeout: Duration,
    pub storage: StorageConfig,
    pub session_ttl: Duration,
    pub trust_easy_auth: bool,
    pub tfl: TflConfig,
}

/// A value that must never reach a log line: `Debug` prints a placeholder, and the only way to
/// read it is the explicit [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(REDACTED)")
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name}={value:?} is not a valid TCP port (1-65535)")]
    InvalidPort { name: &'static str, value: String },
    #[error("set either {first} or {second}, not both")]
    Conflict {
        first: &'static str,
        second: &'static str,
    },
    #[error("{name}={value:?} is not valid: expected {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl Config {
    /// Reads the process environment; `cli_port` is `--port` if given.
    pub fn from_env(cli_port: Option<u16>) -> Result<Self, ConfigError> {
        Self::from_lookup(cli_port, |name| std::env::var(name).ok())
    }

    /// Same as [`Config::from_env`] with an injectable environment, for tests.
    pub fn from_lookup(
        cli_port: Option<u16>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        // The host's port must win: it is the only one the host will call.
        let port = match (set(FUNCTIONS_CUSTOMHANDLER_PORT), cli_port, set(PORT)) {
            (Some(value), _, _) => parse_port(FUNCTIONS_CUSTOMHANDLER_PORT, &value)?,
            (None, Some(port), _) => port,
            (None, None, Some(value)) => parse_port(PORT, &value)?,
            (None, None, None) => DEFAULT_PORT,
        };

        let log_format = match set(LOG_FORMAT).as_deref().map(str::trim) {
            None => LogFormat::Text,
            Some(v) if v.eq_ignore_ascii_case("text") => LogFormat::Text,
            Some(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
            Some(v) => {
                return Err(ConfigError::Invalid {
                    name: LOG_FORMAT,
                    value: v.to_owned(),
                    expected: "`text` or `json`",
                })
            }
        };

        let shutdown_timeout = match set(SHUTDOWN_TIMEOUT_SECS) {
            None => Duration::from_secs(10),
            Some(value) => value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|secs| *secs <= 3600)
                .map(Duration::from_secs)
                .ok_or(ConfigError::Invalid {
                    name: SHUTDOWN_TIMEOUT_SECS,
                    value,
                    expected: "whole seconds from 0 to 3600",
                })?,
        };

        let tfl = TflConfig {
            base_url: parse_base_url(TFL_API_BASE, set(TFL_API_BASE))?,
            app_key: set(TFL_APP_KEY).map(|key| Secret::new(key.trim())),
            connect_timeout: parse_millis(
                TFL_CONNECT_TIMEOUT_MS,
                set(TFL_CONNECT_TIMEOUT_MS),
                2000,
            )?,
            timeout: parse_millis(TFL_TIMEOUT_MS, set(TFL_TIMEOUT_MS), 5000)?,
        };

        Ok(Self {
            port,
            log_format,
            log_filter: set(RUST_LOG).unwrap_or_else(|| "info".to_owned()),
            shutdown_timeout,
            storage: storage_config(&set)?,
            session_ttl: match set(SESSION_TTL) {
                None => Duration::from_secs(3600),
                Some(value) => parse_duration(&value).ok_or(ConfigError::Invalid {
                    name: SESSION_TTL,
                    value,
                    expected: "a duration from 1 minute to 30 days, e.g. 3600, 90m, 1h, 7d",
                })?,
            },
            trust_easy_auth: match set(TRUST_EASY_AUTH).as_deref().map(str::trim) {
                None => false,
                Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => true,
                Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => false,
                Some(v) => {
                    return Err(ConfigError::Invalid {
                        name: TRUST_EASY_AUTH,
                        value: v.to_owned(),
                        expected: "`true` or `false`",
                    })
                }
            },
            tfl,
        })
    }
}

fn storage_config(set: &impl Fn(&str) -> Option<String>) -> Result<StorageConfig, ConfigError> {
    let backend = match (set(STORAGE_CONNECTION_STRING), set(STORAGE_ACCOUNT_NAME)) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Conflict {
                first: STORAGE_CONNECTION_STRING,
                second: STORAGE_ACCOUNT_NAME,
            })
        }
        (Some(connection_string), None) => {
            storage::azure::check_connection_string(&connection_string).map_err(|why| {
                ConfigError::Invalid {
                    name: STORAGE_CONNECTION_STRING,
                    // Never echo a connection string: it holds the account key.
                    value: "<redacted>".into(),
                    expected: why,
                }
            })?;
            Backend::Azure(Connection::ConnectionString(connection_string))
        }
        (None, Some(account)) => {
            let account = account.trim().to_owned();
            let valid = (3..=24).contains(&account.len())
                && account
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            if !valid {
                return Err(ConfigError::Invalid {
                    name: STORAGE_ACCOUNT_NAME,
                    value: account,
                    expected: "3 to 24 lower-case letters and digits",
                });
            }
            Backend::Azure(Connection::ManagedIdentity {
                account,
                client_id: set(AZURE_CLIENT_ID).map(|id| id.trim().to_owned()),
            })
        }
        (None, None) => Backend::Embedded {
            data_dir: PathBuf::from(set(DATA_DIR).unwrap_or_else(|| "./.data".to_owned())),
        },
    };
    let records_table = set(RECORDS_TABLE).unwrap_or_else(|| "records".to_owned());
    if !storage::valid_table_name(&records_table) {
        return Err(ConfigError::Invalid {
            name: RECORDS_TABLE,
            value: records_table,
            expected: "3 to 63 letters and digits, starting with a letter",
        });
    }
    let table = |name: &'static str, default: &str| {
        let value = set(name).unwrap_or_else(|| default.to_owned());
        if storage::valid_table_name(&value) {
            Ok(value)
        } else {
            Err(ConfigError::Invalid {
                name,
                value,
                expected: "3 to 63 letters and digits, starting with a letter",
            })
        }
    };
    let users_table = table(USERS_TABLE, "users")?;
    let sessions_table = table(SESSIONS_TABLE, "sessions")?;
    let uploads_container = set(UPLOADS_CONTAINER).unwrap_or_else(|| "uploads".to_owned());
    if !storage::valid_container_name(&uploads_container) {
        return Err(ConfigError::Invalid {
            name: UPLOADS_CONTAINER,
            value: uploads_container,
            expected: "3 to 63 lower-case letters, digits and single hyphens",
        });
    }
    let upload_max_bytes = match set(UPLOAD_MAX_BYTES) {
        None => crate::host::MAX_BODY_BYTES as u64,
        Some(value) => value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|bytes| (1..=crate::host::MAX_BODY_BYTES as u64).contains(bytes))
            .ok_or(ConfigError::Invalid {
                name: UPLOAD_MAX_BYTES,
                value,
                expected: "bytes from 1 to 104857600 (the host's limit)",
            })?,
    };
    let timeout = match set(STORAGE_TIMEOUT_MS) {
        None => Duration::from_secs(10),
        Some(value) => value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|ms| (100..=120_000).contains(ms))
            .map(Duration::from_millis)
            .ok_or(ConfigError::Invalid {
                name: STORAGE_TIMEOUT_MS,
                value,
                expected: "milliseconds from 100 to 120000",
            })?,
    };
    Ok(StorageConfig {
        backend,
        records_table,
        users_table,
        sessions_table,
        uploads_container,
        upload_max_bytes,
        timeout,
    })
}

/// `3600`, `3600s`, `90m`, `1h`, `7d`, between a minute and 30 days.
fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (number, unit) = match value.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => value.split_at(at),
        None => (value, "s"),
    };
    let seconds_per_unit = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    let seconds = number.parse::<u64>().ok()?.checked_mul(seconds_per_unit)?;
    (60..=30 * 86_400)
        .contains(&seconds)
        .then(|| Duration::from_secs(seconds))
}

/// An `http(s)://host[:port][/path]` URL without query or fragment (we append paths to it).
fn parse_base_url(name: &'static str, value: Option<String>) -> Result<String, ConfigError> {
    let Some(value) = value else {
        return Ok(DEFAULT_TFL_API_BASE.to_owned());
    };
    let invalid = || ConfigError::Invalid {
        name,
        value: value.clone(),
        expected: "an http:// or https:// URL without query or fragment",
    };
    let url = reqwest::Url::parse(value.trim()).map_err(|_| invalid())?;
    let usable = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|host| !host.is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !usable {
        return Err(invalid());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Milliseconds from 1 to 600,000 (ten minutes: longer than any sane upstream budget).
fn parse_millis(
    name: &'static str,
    value: Option<String>,
    default: u64,
) -> Result<Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(Duration::from_millis(default));
    };
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|ms| (1..=600_000).contains(ms))
        .map(Duration::from_millis)
        .ok_or(ConfigError::Invalid {
            name,
            value,
            expected: "whole milliseconds from 1 to 600000",
        })
}

fn parse_port(name: &'static str, value: &str) -> Result<u16, ConfigError> {
    value
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|port| *port != 0)
        .ok_or_else(|| ConfigError::InvalidPort {
            name,
            value: value.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(cli_port: Option<u16>, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(cli_port, |name| {
            env.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn host_port_wins_over_cli_and_port() {
        let c = config(
            Some(9000),
            &[(FUNCTIONS_CUSTOMHANDLER_PORT, "40123"), (PORT, "8080")],
        )
        .unwrap();
        assert_eq!(c.port, 40123);
    }

    #[test]
    fn cli_port_wins_over_port_variable() {
        assert_eq!(config(Some(9000), &[(PORT, "8080")]).unwrap().port, 9000);
        assert_eq!(config(None, &[(PORT, "8080")]).unwrap().port, 8080);
    }

    #[test]
    fn defaults_match_func_start() {
        let c = config(None, &[]).unwrap();
        assert_eq!(c.port, 7071);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(10));
        assert_eq!(c.log_filter, "info");
        assert_eq!(c.tfl.base_url, "https://api.tfl.gov.uk");
        assert_eq!(c.tfl.app_key, None);
        assert_eq!(c.tfl.connect_timeout, Duration::from_millis(2000));
        assert_eq!(c.tfl.timeout, Duration::from_millis(5000));
    }

    #[test]
    fn tfl_settings_are_validated() {
        let c = config(
            None,
            &[
                (TFL_API_BASE, "http://127.0.0.1:8080/tfl/"),
                (TFL_APP_KEY, " k3y "),
                (TFL_TIMEOUT_MS, "300"),
            ],
        )
        .unwrap();
        assert_eq!(c.tfl.base_url, "http://127.0.0.1:8080/tfl");
        assert_eq!(c.tfl.app_key.as_ref().map(Secret::expose), Some("k3y"));
        assert_eq!(c.tfl.timeout, Duration::from_millis(300));
        for (name, value) in [
            (TFL_API_BASE, "api.tfl.gov.uk"),
            (TFL_API_BASE, "ftp://api.tfl.gov.uk"),
            (TFL_API_BASE, "https://api.tfl.gov.uk/?app_key=x"),
            (TFL_CONNECT_TIMEOUT_MS, "fast"),
            (TFL_TIMEOUT_MS, "0"),
        ] {
            let err = config(None, &[(name, value)]).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn an_empty_app_key_means_none_and_a_key_never_debug_prints() {
        assert_eq!(
            config(None, &[(TFL_APP_KEY, "")]).unwrap().tfl.app_key,
            None
        );
        let c = config(None, &[(TFL_APP_KEY, "s3cret")]).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = config(None, &[(FUNCTIONS_CUSTOMHANDLER_PORT, "http")]).unwrap_err();
        assert!(
            err.to_string().contains(FUNCTIONS_CUSTOMHANDLER_PORT),
            "{err}"
        );
        assert!(config(None, &[(PORT, "0")]).is_err());
        assert!(config(None, &[(PORT, "70000")]).is_err());
        let err = config(None, &[(LOG_FORMAT, "yaml")]).unwrap_err();
        assert!(err.to_string().contains("LOG_FORMAT"), "{err}");
        assert!(config(None, &[(SHUTDOWN_TIMEOUT_SECS, "-1")]).is_err());
    }

    #[test]
    fn storage_defaults_to_the_embedded_backend() {
        let c = config(None, &[]).unwrap();
        assert!(
            matches!(c.storage.backend, Backend::Embedded { ref data_dir } if data_dir == &PathBuf::from("./.data"))
        );
        assert_eq!(c.storage.records_table, "records");
    }

    #[test]
    fn storage_settings_are_validated_without_echoing_secrets() {
        let err = config(None, &[(STORAGE_CONNECTION_STRING, "AccountKey=c2VjcmV0")]).unwrap_err();
        assert!(err.to_string().contains(STORAGE_CONNECTION_STRING), "{err}");
        assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
        assert!(config(None, &[(STORAGE_ACCOUNT_NAME, "Bad_Name")]).is_err());
        assert!(config(None, &[(RECORDS_TABLE, "re-cords")]).is_err());
        assert!(config(
            None,
            &[
                (STORAGE_CONNECTION_STRING, "UseDevelopmentStorage=true"),
                (STORAGE_ACCOUNT_NAME, "acct")
            ]
        )
        .is_err());
        let c = config(
            None,
            &[(STORAGE_ACCOUNT_NAME, "acct123"), (AZURE_CLIENT_ID, "abc")],
        )
        .unwrap();
        assert!(matches!(
            c.storage.backend,
            Backend::Azure(Connection::ManagedIdentity { ref account, client_id: Some(ref id) })
                if account == "acct123" && id == "abc"
        ));
    }

    #[test]
    fn session_ttl_and_easy_auth() {
        let c = config(None, &[]).unwrap();
        assert_eq!(c.session_ttl, Duration::from_secs(3600));
        assert!(!c.trust_easy_auth);
        for (text, secs) in [("7200", 7200), ("90m", 5400), ("2h", 7200), ("1d", 86_400)] {
            assert_eq!(
                config(None, &[(SESSION_TTL, text)])
                    .unwrap()
                    .session_ttl
                    .as_secs(),
                secs
            );
        }
        for bad in ["0", "10s", "1y", "h", "31d"] {
            assert!(config(None, &[(SESSION_TTL, bad)]).is_err(), "{bad}");
        }
        assert!(
            config(None, &[(TRUST_EASY_AUTH, "TRUE")])
                .unwrap()
                .trust_easy_auth
        );
        assert!(config(None, &[(TRUST_EASY_AUTH, "yes")]).is_err());
    }

    #[test]
    fn json_logs_are_case_insensitive() {
        let c = config(None, &[(LOG_FORMAT, "JSON")]).unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn every_setting_read_here_is_documented() {
        for name in [
            FUNCTIONS_CUSTOMHANDLER_PORT,
            PORT,
            LOG_FORMAT,
            RUST_LOG,
            SHUTDOWN_TIMEOUT_SECS,
            STORAGE_CONNECTION_STRING,
            STORAGE_ACCOUNT_NAME,
            AZURE_CLIENT_ID,
            RECORDS_TABLE,
            DATA_DIR,
            STORAGE_TIMEOUT_MS,
            UPLOADS_CONTAINER,
            UPLOAD_MAX_BYTES,
            USERS_TABLE,
            SESSIONS_TABLE,
            SESSION_TTL,
            TRUST_EASY_AUTH,
            TFL_API_BASE,
            TFL_APP_KEY,
            TFL_CONNECT_TIMEOUT_MS,
            TFL_TIMEOUT_MS,
        ] {
            assert!(
                SETTINGS.iter().any(|s| s.name == name),
                "{name} is read but missing from SETTINGS"
            );
        }
    }
}
