//! Typed settings, read once at start from the environment (and `--port`), validated before
//! anything listens.
//!
//! Each variable is declared once, in the `settings!` list below: its name, its [`Kind`] (the
//! parser), its default (text, read by that same parser), who provides it in Azure and its doc
//! line (also the README's). That list becomes the name constants and [`SETTINGS`], from which
//! the README's configuration table is rendered (`tests/docs.rs`; `UPDATE_README=1 cargo test
//! --test docs` rewrites it) and against which the Bicep is checked (`tests/infra_drift.rs`).
//! [`Config::from_lookup`] reads every value through the list, so a variable cannot be read
//! without being declared.

use std::{path::PathBuf, time::Duration};

use thiserror::Error;

use crate::{
    domain::Secret,
    server,
    storage::{
        self,
        azure::Connection,
        wiring::{Backend, StorageConfig},
    },
    tfl::TflConfig,
};

/// Port `func start` listens on by default, so local URLs look the same with or without the host.
pub const DEFAULT_PORT: u16 = 7071;

/// TfL's public endpoint; tests and local runs point `TFL_API_BASE` at a replay server.
pub const DEFAULT_TFL_API_BASE: &str = "https://api.tfl.gov.uk";

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
    /// Used when the variable is unset or blank; read by [`Setting::kind`] like a set value.
    /// A blank default means "unset".
    pub default: Option<&'static str>,
    pub kind: Kind,
    pub description: &'static str,
    pub deploy: Deploy,
}

/// How a setting's text is read: the one parser for a value from the environment and for the
/// declared default. Surrounding spaces never count, except where noted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A TCP port, 1-65535.
    Port,
    /// Whole milliseconds from `min` to `max`; `expected` says so in an error.
    Millis {
        min: u64,
        max: u64,
        expected: &'static str,
    },
    /// Whole seconds from `min` to `max`.
    Seconds {
        min: u64,
        max: u64,
        expected: &'static str,
    },
    /// `3600`, `3600s`, `90m`, `1h`, `7d`: from a minute to 30 days.
    Duration,
    /// A count (of connections, say) from `min` to `max`.
    Count {
        min: u64,
        max: u64,
        expected: &'static str,
    },
    /// A number of bytes from `min` to `max`.
    Bytes {
        min: u64,
        max: u64,
        expected: &'static str,
    },
    /// `true`/`1` or `false`/`0`, any case.
    Bool,
    /// `text` or `json`, any case: a [`LogFormat`].
    LogFormat,
    /// An `http(s)://host[:port][/path]` URL without query or fragment, read without its
    /// trailing slash (paths are appended to it).
    Url,
    /// An Azure Storage table name, as written.
    Table,
    /// An Azure blob container name, as written.
    Container,
    /// An Azure Storage account name.
    Account,
    /// An Azure Storage connection string, as written. It holds a key: an error never quotes it.
    ConnectionString,
    /// Free text, as written.
    Text,
    /// A word such as an id.
    Word,
    /// A [`Secret`].
    Secret,
}

/// Both TfL budgets: longer than ten minutes is no sane upstream budget.
const TFL_MILLIS: Kind = Kind::Millis {
    min: 1,
    max: 600_000,
    expected: "whole milliseconds from 1 to 600000",
};

/// Declares the settings: each `NAME { ... }` becomes `pub const NAME: &str` (documented with
/// its `doc`) and one [`Setting`] in [`SETTINGS`], in the order given here (the README's).
macro_rules! settings {
    ($(
        $name:ident {
            kind: $kind:expr,
            default: $default:expr,
            deploy: $deploy:ident,
            doc: $doc:literal $(,)?
        }
    )*) => {
        $(
            #[doc = $doc]
            pub const $name: &str = stringify!($name);
        )*

        /// Every variable the handler reads, declared once in `settings!`.
        pub const SETTINGS: &[Setting] = &[$(
            Setting {
                name: $name,
                default: $default,
                kind: $kind,
                description: $doc,
                deploy: Deploy::$deploy,
            },
        )*];
    };
}

settings! {
    FUNCTIONS_CUSTOMHANDLER_PORT {
        kind: Kind::Port,
        default: None,
        deploy: Host,
        doc: "Port the Functions host tells the handler to listen on (127.0.0.1). Wins over `--port` and `PORT`.",
    }
    PORT {
        kind: Kind::Port,
        default: Some("7071"),
        deploy: LocalOnly,
        doc: "Port for plain `cargo run` when the host does not set one; `--port` wins over it.",
    }
    LOG_FORMAT {
        kind: Kind::LogFormat,
        default: Some("text"),
        deploy: AppSetting,
        doc: "`text` for humans, `json` for one JSON object per line (set to `json` in Azure).",
    }
    RUST_LOG {
        kind: Kind::Text,
        default: Some("info"),
        deploy: LocalOnly,
        doc: "Log filter in `tracing` syntax, e.g. `handler=debug,info`.",
    }
    SHUTDOWN_TIMEOUT_SECS {
        kind: Kind::Seconds { min: 0, max: 3600, expected: "whole seconds from 0 to 3600" },
        default: Some("10"),
        deploy: LocalOnly,
        doc: "On SIGTERM/SIGINT, how long in-flight requests may take to finish before the process exits.",
    }
    HEADER_TIMEOUT {
        kind: Kind::Seconds { min: 1, max: 300, expected: "whole seconds from 1 to 300" },
        default: Some("10"),
        deploy: LocalOnly,
        doc: "Seconds a client may take to send a request's headers, and a keep-alive connection may stay idle; then the connection is closed.",
    }
    BODY_TIMEOUT {
        kind: Kind::Seconds { min: 1, max: 600, expected: "whole seconds from 1 to 600" },
        default: Some("30"),
        deploy: LocalOnly,
        doc: "Seconds a request body may go without sending data, or a client without reading its answer (a slow upload that keeps sending is fine); then the request fails or the connection closes.",
    }
    MAX_CONNECTIONS {
        kind: Kind::Count { min: 1, max: 65536, expected: "a count from 1 to 65536" },
        default: Some("1024"),
        deploy: LocalOnly,
        doc: "Connections served at once; more wait in the listen backlog, established ones are not disturbed.",
    }
    STORAGE_CONNECTION_STRING {
        kind: Kind::ConnectionString,
        default: None,
        deploy: LocalOnly,
        doc: "Azure Storage connection string (account key or SAS), or `UseDevelopmentStorage=true` for Azurite on its default ports. A secret: never logged.",
    }
    STORAGE_ACCOUNT_NAME {
        kind: Kind::Account,
        default: None,
        deploy: AppSetting,
        doc: "Storage account reached with the app's managed identity (no keys; what the Bicep sets). Set this or the connection string, not both.",
    }
    AZURE_CLIENT_ID {
        kind: Kind::Word,
        default: None,
        deploy: AppSetting,
        doc: "Client id of the user-assigned managed identity to use for storage; unset = the system-assigned one.",
    }
    RECORDS_TABLE {
        kind: Kind::Table,
        default: Some("records"),
        deploy: AppSetting,
        doc: "Table holding the records (created at start if missing).",
    }
    USERS_TABLE {
        kind: Kind::Table,
        default: Some("users"),
        deploy: AppSetting,
        doc: "Table holding accounts (created at start if missing).",
    }
    SESSIONS_TABLE {
        kind: Kind::Table,
        default: Some("sessions"),
        deploy: AppSetting,
        doc: "Table holding sessions (hashes of bearer tokens; created at start if missing).",
    }
    SESSION_TTL {
        kind: Kind::Duration,
        default: Some("1h"),
        deploy: LocalOnly,
        doc: "How long a login token is valid: seconds, or a number with `s`, `m`, `h` or `d`.",
    }
    TRUST_EASY_AUTH {
        kind: Kind::Bool,
        default: Some("false"),
        deploy: AppSetting,
        doc: "`true` only behind App Service Authentication: then `X-MS-CLIENT-PRINCIPAL` identifies the user (anyone can forge it otherwise).",
    }
    UPLOADS_CONTAINER {
        kind: Kind::Container,
        default: Some("uploads"),
        deploy: AppSetting,
        doc: "Blob container holding uploaded files (created at start if missing).",
    }
    UPLOAD_MAX_BYTES {
        kind: Kind::Bytes {
            min: 1,
            max: crate::limits::MAX_BODY_BYTES as u64,
            expected: "bytes from 1 to 104857600 (the host's limit)",
        },
        default: Some("104857600"),
        deploy: LocalOnly,
        doc: "Largest file `upload` accepts, in bytes (at most the host's 100 MB request limit).",
    }
    DATA_DIR {
        kind: Kind::Text,
        default: Some("./.data"),
        deploy: LocalOnly,
        doc: "Where the embedded backend keeps its SQLite file, when neither storage variable above is set.",
    }
    STORAGE_TIMEOUT_MS {
        kind: Kind::Millis { min: 100, max: 120_000, expected: "milliseconds from 100 to 120000" },
        default: Some("10000"),
        deploy: LocalOnly,
        doc: "Timeout of each call to Azure Storage (connect timeout: the smaller of this and 5 s).",
    }
    TFL_API_BASE {
        kind: Kind::Url,
        default: Some(DEFAULT_TFL_API_BASE),
        deploy: LocalOnly,
        doc: "Base URL of the TfL Unified API (`http` or `https`); point it at a replay server for local runs.",
    }
    TFL_APP_KEY {
        kind: Kind::Secret,
        default: Some(""),
        deploy: AppSetting,
        doc: "TfL app key, sent as the `app_key` query parameter and never logged (set from the `tflAppKey` Bicep parameter). Empty: call TfL anonymously (lower rate limit).",
    }
    TFL_CONNECT_TIMEOUT_MS {
        kind: TFL_MILLIS,
        default: Some("2000"),
        deploy: LocalOnly,
        doc: "How long a TCP + TLS connection to TfL may take, in milliseconds.",
    }
    TFL_TIMEOUT_MS {
        kind: TFL_MILLIS,
        default: Some("5000"),
        deploy: LocalOnly,
        doc: "Total budget for one TfL call, the one retry included, in milliseconds; past it the request answers 504.",
    }
}

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
    pub server: server::Limits,
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
        let env = Env(lookup);

        // The host's port must win: it is the only one the host will call.
        let port = match (env.get(FUNCTIONS_CUSTOMHANDLER_PORT)?, cli_port) {
            (Some(port), _) | (None, Some(port)) => port,
            (None, None) => env.value(PORT)?,
        };
        let log_format = env.value(LOG_FORMAT)?;
        let shutdown_timeout = env.value(SHUTDOWN_TIMEOUT_SECS)?;
        let tfl = TflConfig {
            base_url: env.value(TFL_API_BASE)?,
            app_key: env.get(TFL_APP_KEY)?,
            connect_timeout: env.value(TFL_CONNECT_TIMEOUT_MS)?,
            timeout: env.value(TFL_TIMEOUT_MS)?,
        };
        Ok(Self {
            port,
            log_format,
            log_filter: env.value(RUST_LOG)?,
            shutdown_timeout,
            storage: storage_config(&env)?,
            session_ttl: env.value(SESSION_TTL)?,
            trust_easy_auth: env.value(TRUST_EASY_AUTH)?,
            tfl,
            server: server::Limits {
                header_timeout: env.value(HEADER_TIMEOUT)?,
                body_timeout: env.value(BODY_TIMEOUT)?,
                max_connections: env.value(MAX_CONNECTIONS)?,
            },
        })
    }
}

fn storage_config<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<StorageConfig, ConfigError> {
    if env.is_set(STORAGE_CONNECTION_STRING) && env.is_set(STORAGE_ACCOUNT_NAME) {
        return Err(ConfigError::Conflict {
            first: STORAGE_CONNECTION_STRING,
            second: STORAGE_ACCOUNT_NAME,
        });
    }
    let backend = if let Some(connection_string) = env.get::<Secret>(STORAGE_CONNECTION_STRING)? {
        Backend::Azure(Connection::ConnectionString(
            connection_string.expose().to_owned(),
        ))
    } else if let Some(account) = env.get(STORAGE_ACCOUNT_NAME)? {
        Backend::Azure(Connection::ManagedIdentity {
            account,
            client_id: env.get(AZURE_CLIENT_ID)?,
        })
    } else {
        Backend::Embedded {
            data_dir: PathBuf::from(env.value::<String>(DATA_DIR)?),
        }
    };
    Ok(StorageConfig {
        backend,
        records_table: env.value(RECORDS_TABLE)?,
        users_table: env.value(USERS_TABLE)?,
        sessions_table: env.value(SESSIONS_TABLE)?,
        uploads_container: env.value(UPLOADS_CONTAINER)?,
        upload_max_bytes: env.value(UPLOAD_MAX_BYTES)?,
        timeout: env.value(STORAGE_TIMEOUT_MS)?,
    })
}

/// The environment, read only through the declared settings.
struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// Whether the variable has a value; a blank one counts as unset.
    fn is_set(&self, name: &'static str) -> bool {
        self.text(declared(name)).is_some()
    }

    fn text(&self, setting: &Setting) -> Option<String> {
        (self.0)(setting.name).filter(|value| !value.trim().is_empty())
    }

    /// The variable's value, else its default, read by its kind; `None` if neither is there.
    fn get<T: FromValue>(&self, name: &'static str) -> Result<Option<T>, ConfigError> {
        let setting = declared(name);
        let text = match self.text(setting) {
            Some(text) => text,
            None => match setting.default {
                Some(default) if !default.trim().is_empty() => default.to_owned(),
                _ => return Ok(None),
            },
        };
        let value = setting.kind.parse(name, &text)?;
        match T::from_value(value) {
            Some(value) => Ok(Some(value)),
            None => panic!(
                "{name} is declared as {:?} but read as a {}",
                setting.kind,
                std::any::type_name::<T>()
            ),
        }
    }

    /// Like [`Env::get`], for a setting that has a default.
    fn value<T: FromValue>(&self, name: &'static str) -> Result<T, ConfigError> {
        Ok(self
            .get(name)?
            .unwrap_or_else(|| panic!("{name} is read as always set but has no default")))
    }
}

/// The declaration of `name`; reading an undeclared variable is a bug.
fn declared(name: &'static str) -> &'static Setting {
    SETTINGS
        .iter()
        .find(|setting| setting.name == name)
        .unwrap_or_else(|| panic!("{name} is read but not declared in settings!"))
}

/// What a [`Kind`] reads.
enum Value {
    Port(u16),
    Count(usize),
    Duration(Duration),
    Bytes(u64),
    Bool(bool),
    LogFormat(LogFormat),
    Text(String),
    Secret(Secret),
}

/// The Rust type a field gets from a [`Value`]; `None` when the kind reads another type.
trait FromValue: Sized {
    fn from_value(value: Value) -> Option<Self>;
}

macro_rules! from_value {
    ($($variant:ident => $type:ty),* $(,)?) => {$(
        impl FromValue for $type {
            fn from_value(value: Value) -> Option<Self> {
                match value {
                    Value::$variant(value) => Some(value),
                    _ => None,
                }
            }
        }
    )*};
}

from_value! {
    Port => u16,
    Count => usize,
    Duration => Duration,
    Bytes => u64,
    Bool => bool,
    LogFormat => LogFormat,
    Text => String,
    Secret => Secret,
}

impl Kind {
    /// Reads `value` (set, so not blank) of the variable `name`.
    fn parse(self, name: &'static str, value: &str) -> Result<Value, ConfigError> {
        let word = value.trim();
        let invalid = |expected| ConfigError::Invalid {
            name,
            value: value.to_owned(),
            expected,
        };
        // Words are quoted trimmed in errors, numbers and names as given.
        let invalid_word = |expected| ConfigError::Invalid {
            name,
            value: word.to_owned(),
            expected,
        };
        let number = |min, max| {
            word.parse::<u64>()
                .ok()
                .filter(|number| (min..=max).contains(number))
        };
        match self {
            Kind::Port => word
                .parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .map(Value::Port)
                .ok_or_else(|| ConfigError::InvalidPort {
                    name,
                    value: value.to_owned(),
                }),
            Kind::Millis { min, max, expected } => number(min, max)
                .map(|ms| Value::Duration(Duration::from_millis(ms)))
                .ok_or_else(|| invalid(expected)),
            Kind::Seconds { min, max, expected } => number(min, max)
                .map(|secs| Value::Duration(Duration::from_secs(secs)))
                .ok_or_else(|| invalid(expected)),
            Kind::Duration => parse_duration(value).map(Value::Duration).ok_or_else(|| {
                invalid("a duration from 1 minute to 30 days, e.g. 3600, 90m, 1h, 7d")
            }),
            Kind::Bytes { min, max, expected } => number(min, max)
                .map(Value::Bytes)
                .ok_or_else(|| invalid(expected)),
            Kind::Count { min, max, expected } => number(min, max)
                .and_then(|count| usize::try_from(count).ok())
                .map(Value::Count)
                .ok_or_else(|| invalid(expected)),
            Kind::Bool if word.eq_ignore_ascii_case("true") || word == "1" => Ok(Value::Bool(true)),
            Kind::Bool if word.eq_ignore_ascii_case("false") || word == "0" => {
                Ok(Value::Bool(false))
            }
            Kind::Bool => Err(invalid_word("`true` or `false`")),
            Kind::LogFormat if word.eq_ignore_ascii_case("text") => {
                Ok(Value::LogFormat(LogFormat::Text))
            }
            Kind::LogFormat if word.eq_ignore_ascii_case("json") => {
                Ok(Value::LogFormat(LogFormat::Json))
            }
            Kind::LogFormat => Err(invalid_word("`text` or `json`")),
            Kind::Url => parse_base_url(value)
                .map(Value::Text)
                .ok_or_else(|| invalid("an http:// or https:// URL without query or fragment")),
            Kind::Table if storage::valid_table_name(value) => Ok(Value::Text(value.to_owned())),
            Kind::Table => Err(invalid(
                "3 to 63 letters and digits, starting with a letter",
            )),
            Kind::Container if storage::valid_container_name(value) => {
                Ok(Value::Text(value.to_owned()))
            }
            Kind::Container => Err(invalid(
                "3 to 63 lower-case letters, digits and single hyphens",
            )),
            Kind::Account => {
                let valid = (3..=24).contains(&word.len())
                    && word
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
                if valid {
                    Ok(Value::Text(word.to_owned()))
                } else {
                    Err(invalid_word("3 to 24 lower-case letters and digits"))
                }
            }
            Kind::ConnectionString => {
                storage::azure::check_connection_string(value).map_err(|why| {
                    ConfigError::Invalid {
                        name,
                        // Never echo a connection string: it holds the account key.
                        value: "<redacted>".into(),
                        expected: why,
                    }
                })?;
                Ok(Value::Secret(Secret::new(value)))
            }
            Kind::Text => Ok(Value::Text(value.to_owned())),
            Kind::Word => Ok(Value::Text(word.to_owned())),
            Kind::Secret => Ok(Value::Secret(Secret::new(word))),
        }
    }
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

/// An `http(s)://host[:port][/path]` URL without query or fragment (we append paths to it),
/// without its trailing slash.
fn parse_base_url(value: &str) -> Option<String> {
    let url = reqwest::Url::parse(value.trim()).ok()?;
    let usable = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|host| !host.is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    usable.then(|| url.as_str().trim_end_matches('/').to_owned())
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
        // Record what from_lookup asks for, down each storage branch.
        let read = std::cell::RefCell::new(std::collections::BTreeSet::new());
        for env in [
            &[][..],
            &[(STORAGE_ACCOUNT_NAME, "acct123")],
            &[(STORAGE_CONNECTION_STRING, "UseDevelopmentStorage=true")],
        ] {
            Config::from_lookup(None, |name| {
                read.borrow_mut().insert(name.to_owned());
                env.iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            })
            .unwrap();
        }
        let read = read.into_inner();
        for name in &read {
            assert!(
                SETTINGS.iter().any(|s| s.name == name),
                "{name} is read but missing from SETTINGS"
            );
        }
        for setting in SETTINGS {
            assert!(
                read.contains(setting.name),
                "{} is declared but never read",
                setting.name
            );
        }
    }

    #[test]
    fn every_default_is_read_by_its_own_kind() {
        for setting in SETTINGS {
            if let Some(default) = setting.default.filter(|d| !d.trim().is_empty()) {
                if let Err(err) = setting.kind.parse(setting.name, default) {
                    panic!("the default of {} does not parse: {err}", setting.name);
                }
            }
        }
    }

    #[test]
    fn each_setting_is_declared_once() {
        let mut names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SETTINGS.len());
    }

    #[test]
    fn ranges_say_what_they_accept() {
        for setting in SETTINGS {
            if let Kind::Millis { min, max, expected }
            | Kind::Seconds { min, max, expected }
            | Kind::Count { min, max, expected }
            | Kind::Bytes { min, max, expected } = setting.kind
            {
                assert!(
                    expected.contains(&format!(" {min} to {max}")),
                    "{}: {expected:?} should say {min} to {max}",
                    setting.name
                );
            }
        }
    }

    #[test]
    fn defaults_agree_with_the_constants_they_stand_for() {
        let default = |name| declared(name).default.unwrap();
        assert_eq!(default(PORT), DEFAULT_PORT.to_string());
        assert_eq!(
            default(UPLOAD_MAX_BYTES),
            crate::limits::MAX_BODY_BYTES.to_string()
        );
        assert!(matches!(
            declared(UPLOAD_MAX_BYTES).kind,
            Kind::Bytes { max, .. } if max == crate::limits::MAX_BODY_BYTES as u64
        ));
        let c = config(None, &[]).unwrap();
        assert_eq!(
            c.storage.upload_max_bytes,
            crate::limits::MAX_BODY_BYTES as u64
        );
        assert_eq!(c.storage.timeout, Duration::from_secs(10));
        assert_eq!(
            (
                c.storage.users_table.as_str(),
                c.storage.sessions_table.as_str(),
                c.storage.uploads_container.as_str()
            ),
            ("users", "sessions", "uploads")
        );
    }
}
