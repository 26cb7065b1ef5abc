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

/// Everything the server needs, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `sqlite://path` (default `sqlite://quarry.db`) or `postgres://…`.
    pub database_url: String,
    /// ClickHouse HTTP URL, when events live there.
    pub clickhouse_url: Option<String>,
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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: "sqlite://quarry.db".into(),
            clickhouse_url: None,
            clickhouse_database: None,
            bind: "127.0.0.1:3000".into(),
            max_page_size: 50,
            query_timeout: Duration::from_secs(30),
            rate_limit: Some(RateLimit {
                requests: 100,
                window: Duration::from_secs(10),
            }),
        }
    }
}

/// Values as given by flags or the environment (clap merges those two), before the file
/// and defaults fill the gaps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    pub database_url: Option<String>,
    pub clickhouse_url: Option<String>,
    pub clickhouse_database: Option<String>,
    pub bind: Option<String>,
    pub max_page_size: Option<u64>,
    /// Seconds.
    pub query_timeout: Option<u64>,
    /// `100/10s` or `off`.
    pub rate_limit: Option<String>,
}

impl Overrides {
    fn or(self, other: Overrides) -> Overrides {
        Overrides {
            database_url: self.database_url.or(other.database_url),
            clickhouse_url: self.clickhouse_url.or(other.clickhouse_url),
            clickhouse_database: self.clickhouse_database.or(other.clickhouse_database),
            bind: self.bind.or(other.bind),
            max_page_size: self.max_page_size.or(other.max_page_size),
            query_timeout: self.query_timeout.or(other.query_timeout),
            rate_limit: self.rate_limit.or(other.rate_limit),
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
        Ok(Settings {
            database_url: o.database_url.unwrap_or(d.database_url),
            clickhouse_url: o.clickhouse_url.filter(|s| !s.is_empty()),
            clickhouse_database: o.clickhouse_database.filter(|s| !s.is_empty()),
            bind: o.bind.unwrap_or(d.bind),
            max_page_size,
            query_timeout,
            rate_limit,
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
        assert_eq!(s.database_url, "sqlite://quarry.db");
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
}
