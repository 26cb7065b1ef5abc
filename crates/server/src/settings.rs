//! One typed `Settings` value, loaded once: command-line flags, then environment
//! variables, then an optional TOML config file, then defaults (§9). Nothing else in the
//! server reads the environment.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// A request budget per client and window (`100/10s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// The window.
    pub window: Duration,
}

impl RateLimit {
    /// Parse `100/10s`, `60/1m`, `5/1h`, or `off` (→ `None`).
    pub fn parse(s: &str) -> Result<Option<RateLimit>, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let err = || format!("expected a rate limit like 100/10s or off, got {s:?}");
        let (n, w) = s.split_once('/').ok_or_else(err)?;
        let requests: u32 = n.trim().parse().map_err(|_| err())?;
        let w = w.trim();
        let (num, unit) = w.split_at(w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len()));
        let num: u64 = if num.is_empty() {
            1
        } else {
            num.parse().map_err(|_| err())?
        };
        let secs = match unit {
            "s" | "" => num,
            "m" => num * 60,
            "h" => num * 3600,
            _ => return Err(err()),
        };
        if requests == 0 || secs == 0 {
            return Err(err());
        }
        Ok(Some(RateLimit {
            requests,
            window: Duration::from_secs(secs),
        }))
    }
}

/// A connection URL, which may hold a password. `Display` and `Debug` print it with the
/// password replaced by `***`, so settings, errors and logs cannot leak it; only
/// [`SecretUrl::expose`] gives the URL itself, to a driver.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wrap a URL.
    pub fn new(url: impl Into<String>) -> SecretUrl {
        SecretUrl(url.into())
    }

    /// The URL with its password, for the driver that connects.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the URL is empty (an unset environment variable).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretUrl {
    fn from(url: String) -> SecretUrl {
        SecretUrl(url)
    }
}

impl From<&str> for SecretUrl {
    fn from(url: &str) -> SecretUrl {
        SecretUrl::new(url)
    }
}

impl std::str::FromStr for SecretUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<SecretUrl, Self::Err> {
        Ok(SecretUrl::new(url))
    }
}

impl std::fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretUrl({:?})", redact(&self.0))
    }
}

/// A URL without its password.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_string(),
    }
}

/// Everything the server needs, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `sqlite://path` (default `sqlite://quarry.db`) or `postgres://…`.
    pub database_url: SecretUrl,
    /// ClickHouse HTTP URL, when events live there.
    pub clickhouse_url: Option<SecretUrl>,
    /// ClickHouse database name.
    pub clickhouse_database: Option<String>,
    /// Listen address (default `127.0.0.1:3000`; port 0 picks a free one).
    pub bind: String,
    /// Largest events page (default 50, at most 10 000).
    pub max_page_size: u64,
    /// Query timeout (default 30 s).
    pub query_timeout: Duration,
    /// Per-client rate limit (default 100/10s), `None` when off.
    pub rate_limit: Option<RateLimit>,
    /// Failed authentications per peer address (default: the rate limit), `None` when off.
    pub auth_failure_limit: Option<RateLimit>,
    /// Budgets and guards (docs/limits.md).
    pub limits: Limits,
    /// Serve the explorer page at `/` (default on).
    pub explorer: bool,
    /// Answer `explain=true` with the compiled SQL and the engine's plan (default on).
    pub explain: bool,
}

/// Budgets of one request and guards of the HTTP server: every input that scales work
/// or memory has one (docs/limits.md lists them with their defaults and settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// What one request may ask for (decoding and compiling).
    pub request: quarry_core::decode::Limits,
    /// Longest request target (path and query string), in bytes: longer is a 414.
    pub max_url_bytes: usize,
    /// Largest request head (request line and headers), in bytes: larger is a 431.
    pub max_head_bytes: usize,
    /// Queries one client may run at once: more is a 429 with `Retry-After`.
    pub max_concurrent_queries: usize,
    /// Streamed exports the whole server runs at once (each holds a database connection
    /// until its last row): more is a 429 with `Retry-After`.
    pub max_streams: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request: quarry_core::decode::Limits::default(),
            max_url_bytes: 32 * 1024,
            max_head_bytes: 64 * 1024,
            max_concurrent_queries: 4,
            max_streams: 4,
        }
    }
}

/// The largest request head the HTTP parser reads (actix-http's buffer is 128 KiB); a
/// larger setting could not be honoured with a JSON answer.
pub const MAX_HEAD_BYTES: usize = 120 * 1024;
/// The `http` crate refuses request targets of 64 KiB and more.
pub const MAX_URL_BYTES: usize = 65_000;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: SecretUrl::new("sqlite://quarry.db"),
            clickhouse_url: None,
            clickhouse_database: None,
            bind: "127.0.0.1:3000".into(),
            max_page_size: 50,
            query_timeout: Duration::from_secs(30),
            rate_limit: Some(RateLimit {
                requests: 100,
                window: Duration::from_secs(10),
            }),
            auth_failure_limit: Some(RateLimit {
                requests: 100,
                window: Duration::from_secs(10),
            }),
            limits: Limits::default(),
            explorer: true,
            explain: true,
        }
    }
}

/// Declares the `[limits]` settings once: each becomes a flag, an environment variable and
/// a key of the config file's `[limits]` table, merged in that order.
macro_rules! limit_overrides {
    ($($(#[doc = $doc:literal])* $field:ident: $ty:ty = $env:literal,)*) => {
        /// The `[limits]` settings as given, before defaults fill the gaps.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, clap::Args)]
        #[serde(deny_unknown_fields)]
        pub struct LimitOverrides {
            $(
                $(#[doc = $doc])*
                #[arg(long, env = $env, global = true)]
                pub $field: Option<$ty>,
            )*
        }

        impl LimitOverrides {
            fn or(self, other: LimitOverrides) -> LimitOverrides {
                LimitOverrides {
                    $($field: self.$field.or(other.$field),)*
                }
            }
        }
    };
}

limit_overrides! {
    /// Filters per request, every config together (default 200).
    max_filters: usize = "QUARRY_MAX_FILTERS",
    /// Filter values per request, every filter together (default 1000).
    max_filter_values: usize = "QUARRY_MAX_FILTER_VALUES",
    /// Bytes of those values together (default 32768).
    max_filter_bytes: usize = "QUARRY_MAX_FILTER_BYTES",
    /// Regular expressions per request (default 16).
    max_patterns: usize = "QUARRY_MAX_PATTERNS",
    /// Bytes of one regular expression (default 1024).
    max_pattern_bytes: usize = "QUARRY_MAX_PATTERN_BYTES",
    /// Compiled size of one regular expression in bytes (default 1048576, at most the same).
    max_pattern_size: usize = "QUARRY_MAX_PATTERN_SIZE",
    /// A chart's limit + offset (default 10000).
    max_chart_series: usize = "QUARRY_MAX_CHART_SERIES",
    /// Points a chart may keep: configs × series × buckets (default 1000000).
    max_chart_points: usize = "QUARRY_MAX_CHART_POINTS",
    /// Longest URL in bytes (default 32768, at most 65000).
    max_url_bytes: usize = "QUARRY_MAX_URL_BYTES",
    /// Largest request head in bytes (default 65536, at most 122880).
    max_head_bytes: usize = "QUARRY_MAX_HEAD_BYTES",
    /// Queries one client may run at once (default 4).
    max_concurrent_queries: usize = "QUARRY_MAX_CONCURRENT_QUERIES",
    /// Streamed exports the server runs at once (default 4).
    max_streams: usize = "QUARRY_MAX_STREAMS",
}

impl LimitOverrides {
    /// The limits, defaults filling the gaps; every value must be at least 1.
    fn resolve(self) -> Result<Limits, String> {
        let d = Limits::default();
        let r = d.request;
        let pick = |name: &str, given: Option<usize>, default: usize, max: usize| match given {
            Some(0) => Err(format!("{name} must be at least 1")),
            Some(n) if n > max => Err(format!("{name} may be at most {max}, got {n}")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let limits = Limits {
            request: quarry_core::decode::Limits {
                // `Settings::max_page_size` is the setting.
                max_page_size: r.max_page_size,
                max_filters: pick("max_filters", self.max_filters, r.max_filters, usize::MAX)?,
                max_values: pick(
                    "max_filter_values",
                    self.max_filter_values,
                    r.max_values,
                    usize::MAX,
                )?,
                max_value_bytes: pick(
                    "max_filter_bytes",
                    self.max_filter_bytes,
                    r.max_value_bytes,
                    usize::MAX,
                )?,
                max_patterns: pick(
                    "max_patterns",
                    self.max_patterns,
                    r.max_patterns,
                    usize::MAX,
                )?,
                max_pattern_bytes: pick(
                    "max_pattern_bytes",
                    self.max_pattern_bytes,
                    r.max_pattern_bytes,
                    usize::MAX,
                )?,
                // The SQLite engine compiles patterns within this size too.
                max_pattern_size: pick(
                    "max_pattern_size",
                    self.max_pattern_size,
                    r.max_pattern_size,
                    r.max_pattern_size,
                )?,
                max_chart_series: pick(
                    "max_chart_series",
                    self.max_chart_series,
                    r.max_chart_series,
                    usize::MAX,
                )?,
                max_chart_points: pick(
                    "max_chart_points",
                    self.max_chart_points,
                    r.max_chart_points,
                    usize::MAX,
                )?,
            },
            max_url_bytes: pick(
                "max_url_bytes",
                self.max_url_bytes,
                d.max_url_bytes,
                MAX_URL_BYTES,
            )?,
            max_head_bytes: pick(
                "max_head_bytes",
                self.max_head_bytes,
                d.max_head_bytes,
                MAX_HEAD_BYTES,
            )?,
            max_concurrent_queries: pick(
                "max_concurrent_queries",
                self.max_concurrent_queries,
                d.max_concurrent_queries,
                usize::MAX,
            )?,
            max_streams: pick("max_streams", self.max_streams, d.max_streams, usize::MAX)?,
        };
        if limits.max_head_bytes < limits.max_url_bytes {
            return Err(format!(
                "max_head_bytes ({}) must be at least max_url_bytes ({})",
                limits.max_head_bytes, limits.max_url_bytes
            ));
        }
        Ok(limits)
    }
}

/// Values as given by flags or the environment (clap merges those two), before the file
/// and defaults fill the gaps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    pub database_url: Option<SecretUrl>,
    pub clickhouse_url: Option<SecretUrl>,
    pub clickhouse_database: Option<String>,
    pub bind: Option<String>,
    pub max_page_size: Option<u64>,
    /// Seconds.
    pub query_timeout: Option<u64>,
    /// `100/10s` or `off`.
    pub rate_limit: Option<String>,
    /// `100/10s` or `off`; the rate limit when not given.
    pub auth_failure_limit: Option<String>,
    /// The `[limits]` table.
    #[serde(default)]
    pub limits: LimitOverrides,
    pub explorer: Option<bool>,
    pub explain: Option<bool>,
}

impl Overrides {
    fn or(self, other: Overrides) -> Overrides {
        Overrides {
            auth_failure_limit: self.auth_failure_limit.or(other.auth_failure_limit),
            limits: self.limits.or(other.limits),
            database_url: self.database_url.or(other.database_url),
            clickhouse_url: self.clickhouse_url.or(other.clickhouse_url),
            clickhouse_database: self.clickhouse_database.or(other.clickhouse_database),
            bind: self.bind.or(other.bind),
            max_page_size: self.max_page_size.or(other.max_page_size),
            query_timeout: self.query_timeout.or(other.query_timeout),
            rate_limit: self.rate_limit.or(other.rate_limit),
            explorer: self.explorer.or(other.explorer),
            explain: self.explain.or(other.explain),
        }
    }
}

impl Settings {
    /// Resolve flags/environment over an optional config file over defaults.
    pub fn load(given: Overrides, config: Option<&Path>) -> Result<Settings, String> {
        let file = match config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
                toml::from_str::<Overrides>(&text)
                    .map_err(|e| format!("invalid config file {}: {e}", path.display()))?
            }
            None => Overrides::default(),
        };
        let o = given.or(file);
        let d = Settings::default();
        let max_page_size = o.max_page_size.unwrap_or(d.max_page_size);
        if !(1..=10_000).contains(&max_page_size) {
            return Err(format!(
                "max page size must be 1 to 10000, got {max_page_size}"
            ));
        }
        let query_timeout = match o.query_timeout {
            Some(0) => return Err("query timeout must be at least 1 second".into()),
            Some(s) => Duration::from_secs(s),
            None => d.query_timeout,
        };
        let rate_limit = match o.rate_limit {
            Some(s) => RateLimit::parse(&s)?,
            None => d.rate_limit,
        };
        // Failed attempts are throttled like requests unless said otherwise, so turning
        // rate limiting off turns this off too.
        let auth_failure_limit = match o.auth_failure_limit {
            Some(s) => RateLimit::parse(&s)?,
            None => rate_limit,
        };
        let limits = o.limits.resolve()?;
        Ok(Settings {
            database_url: o.database_url.unwrap_or(d.database_url),
            clickhouse_url: o.clickhouse_url.filter(|s| !s.is_empty()),
            clickhouse_database: o.clickhouse_database.filter(|s| !s.is_empty()),
            bind: o.bind.unwrap_or(d.bind),
            max_page_size,
            query_timeout,
            rate_limit,
            auth_failure_limit,
            limits,
            explorer: o.explorer.unwrap_or(d.explorer),
            explain: o.explain.unwrap_or(d.explain),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_parse() {
        assert_eq!(
            RateLimit::parse("100/10s").unwrap(),
            Some(RateLimit {
                requests: 100,
                window: Duration::from_secs(10)
            })
        );
        assert_eq!(
            RateLimit::parse("60/m").unwrap(),
            Some(RateLimit {
                requests: 60,
                window: Duration::from_secs(60)
            })
        );
        assert_eq!(RateLimit::parse("off").unwrap(), None);
        assert!(RateLimit::parse("0/10s").is_err());
        assert!(RateLimit::parse("ten/10s").is_err());
        assert!(RateLimit::parse("10/10y").is_err());
    }

    #[test]
    fn flags_beat_file_beat_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quarry.toml");
        std::fs::write(
            &path,
            "bind = \"0.0.0.0:9000\"\nmax_page_size = 500\nrate_limit = \"off\"\n",
        )
        .unwrap();
        let given = Overrides {
            max_page_size: Some(200),
            ..Overrides::default()
        };
        let s = Settings::load(given, Some(&path)).unwrap();
        assert_eq!(s.bind, "0.0.0.0:9000");
        assert_eq!(s.max_page_size, 200);
        assert_eq!(s.rate_limit, None);
        assert_eq!(s.database_url.expose(), "sqlite://quarry.db");
        assert_eq!(s.query_timeout, Duration::from_secs(30));
    }

    #[test]
    fn bad_values_are_rejected() {
        let bad = Overrides {
            max_page_size: Some(20_000),
            ..Overrides::default()
        };
        assert!(Settings::load(bad, None).is_err());
        let bad = Overrides {
            query_timeout: Some(0),
            ..Overrides::default()
        };
        assert!(Settings::load(bad, None).is_err());
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact("sqlite://quarry.db"), "sqlite://quarry.db");
        assert_eq!(
            redact("http://default:pw@127.0.0.1:8123"),
            "http://default:***@127.0.0.1:8123"
        );
    }

    #[test]
    fn urls_never_print_their_password() {
        let url = SecretUrl::new("postgres://quarry:hunter2@db:5432/quarry");
        assert_eq!(url.to_string(), "postgres://quarry:***@db:5432/quarry");
        assert!(!format!("{url:?}").contains("hunter2"));
        let settings = Settings {
            database_url: url.clone(),
            clickhouse_url: Some(SecretUrl::new("http://default:pw123@127.0.0.1:8123")),
            ..Settings::default()
        };
        let debug = format!("{settings:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("pw123"),
            "{debug}"
        );
        assert_eq!(url.expose(), "postgres://quarry:hunter2@db:5432/quarry");
    }
}
