//! Writes the seed corpora of the fuzz targets and runs every seed through the targets'
//! checks, uninstrumented (a seed that panics here is a finding before any fuzzing):
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example seeds
//! ```
//!
//! - `corpus/request/seed-fixture-*`: every request fixture of quarry-core's snapshot
//!   suite (`crates/core/tests/fixtures/*.txt`, read with `quarry_testkit::request_fixtures`),
//!   as a selector byte (its endpoint, timezone, first event and clock) and its query string;
//! - `corpus/request/seed-hostile-*`: requests at and over the budgets of docs/limits.md,
//!   pathological regexes, NUL characters, bracket notation, deep JSON, SQL fragments;
//! - `corpus/qs/seed-*`: query strings in every shape of §4.1;
//! - `corpus/import_line/seed-*`: import lines in the Event shape of §2.1.
//!
//! Only `seed-*` files are replaced; inputs the fuzzer found and `cargo fuzz cmin` kept
//! (named by their SHA-1) are left alone.

#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use quarry_core::time::parse_rfc3339;
use quarry_fuzz::{
    Endpoint, NOWS, Selector, TIMEZONES, check_import_line, check_qs, check_request,
};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let request = request_seeds();
    let qs = qs_seeds();
    let import = import_seeds();

    let mut decoded = 0;
    let mut statements = 0;
    for (name, data) in &request {
        let out = check_request(data);
        decoded += out.decoded;
        statements += out.statements;
        if name.starts_with("fixture-") {
            assert!(out.statements > 0, "{name}: the fixture no longer compiles");
        }
    }
    for (_, data) in &qs {
        check_qs(data);
    }
    let mut accepted = 0;
    for (_, data) in &import {
        accepted += usize::from(check_import_line(data) > 0);
    }

    write(&root.join("request"), &request);
    write(&root.join("qs"), &qs);
    write(&root.join("import_line"), &import);
    println!(
        "request: {} seeds ({decoded} decoded requests, {statements} statements parsed back)",
        request.len()
    );
    println!("qs: {} seeds", qs.len());
    println!("import_line: {} seeds ({accepted} accepted)", import.len());
}

/// Replace the `seed-*` files of `dir` with `seeds`.
fn write(dir: &Path, seeds: &[(String, Vec<u8>)]) {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path: PathBuf = entry.unwrap().path();
        let is_seed = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("seed-"));
        if is_seed {
            std::fs::remove_file(&path).unwrap();
        }
    }
    for (name, data) in seeds {
        std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
    }
}

fn input(sel: Selector, query: &str) -> Vec<u8> {
    let mut out = vec![sel.to_byte()];
    out.extend_from_slice(query.as_bytes());
    out
}

fn sel(endpoint: Endpoint, tz: usize) -> Selector {
    Selector {
        endpoint,
        tz,
        first_event: true,
        now: 0,
    }
}

fn request_seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for fx in quarry_testkit::request_fixtures() {
        let endpoint = match fx.endpoint.as_str() {
            "charts" => Endpoint::Charts,
            "funnel" => Endpoint::Funnel,
            _ => Endpoint::Events,
        };
        let tz = fx
            .timezone
            .and_then(|tz| TIMEZONES.iter().position(|t| *t == tz))
            .unwrap_or(0);
        let now = fx
            .now
            .as_deref()
            .and_then(parse_rfc3339)
            .and_then(|ms| NOWS.iter().position(|n| *n == ms))
            .unwrap_or(0);
        let s = Selector {
            endpoint,
            tz,
            first_event: fx.first_event.is_some(),
            now,
        };
        seeds.push((format!("fixture-{}", fx.name), input(s, &fx.query)));
    }

    let mut hostile = |name: &str, s: Selector, query: String| {
        seeds.push((format!("hostile-{name}"), input(s, &query)));
    };
    let values = |n: usize| -> String {
        (0..n)
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    let chart = |filters: &str| {
        format!(r#"events=[{{"name":"e","filters":[{filters}]}}]&range=30d&interval=day"#)
    };
    let filter = |name: &str, op: &str, value: &str| {
        format!(r#"{{"name":"{name}","operator":"{op}","value":[{value}]}}"#)
    };

    // The value budget (1 000) and just over it; IN lists, OR runs, AND runs.
    for (op, n) in [
        ("is", 1000),
        ("is", 1001),
        ("contains", 1000),
        ("doesNotContain", 1000),
    ] {
        hostile(
            &format!("values-{op}-{n}"),
            sel(Endpoint::All, 1),
            chart(&filter("country", op, &values(n))),
        );
    }
    hostile(
        "values-property-startswith-1000",
        sel(Endpoint::Charts, 2),
        chart(&filter("properties.plan", "startsWith", &values(1000))),
    );
    hostile(
        "values-funnel-1000",
        sel(Endpoint::Funnel, 3),
        format!(
            r#"events=[{{"name":"a","filters":[{}]}},{{"name":"b"}}]&range=7d"#,
            filter("path", "endsWith", &values(1000))
        ),
    );
    hostile(
        "values-events-names-1000",
        sel(Endpoint::Events, 0),
        (0..1000)
            .map(|i| format!("event=e{i}"))
            .collect::<Vec<_>>()
            .join("&"),
    );
    hostile(
        "values-events-filter-1000",
        sel(Endpoint::Events, 1),
        format!("filters=[{}]", filter("os", "isNot", &values(1000))),
    );
    // The filter budget (200): many one-value filters, and over it.
    for n in [200, 201] {
        let filters: Vec<String> = (0..n)
            .map(|i| filter(&format!("properties.k{i}"), "is", "\"v\""))
            .collect();
        hostile(
            &format!("filters-{n}"),
            sel(Endpoint::All, 0),
            chart(&filters.join(",")),
        );
    }
    // 20 event configs with 3 breakdowns and the previous period.
    let configs: Vec<String> = (0..20)
        .map(|i| {
            format!(
                r#"{{"name":"e{i}","segment":"user","filters":[{}]}}"#,
                filter("country", "is", "\"SE\",\"NO\"")
            )
        })
        .collect();
    hostile(
        "configs-20-breakdowns-3",
        sel(Endpoint::All, 1),
        format!(
            r#"events=[{}]&breakdowns=[{{"name":"country"}},{{"name":"properties.a.b"}},{{"name":"duration"}}]&range=30d&interval=day&previous=true&limit=1000&offset=9000"#,
            configs.join(",")
        ),
    );

    // Regular expressions: the review's nested counted repetition, sizes at the limit,
    // constructs the common dialect refuses, and more patterns than the budget.
    let regexes = [
        r"(a{1,255}){1,255}",
        r"^.{0,255}$",
        r"^.{0,256}$",
        r"((((a*)*)*)*)*b",
        r"(a|aa)+$",
        r"(a)\\1",
        r"(?=a)b",
        r"\\p{L}+\\d{2,}",
        r"[[:alpha:]]",
        r"[",
        r"a{1000000}",
        r"(?i)ÄÖ",
        r"\\x00",
        r"",
    ];
    for (i, re) in regexes.iter().enumerate() {
        hostile(
            &format!("regex-{i}"),
            sel(Endpoint::All, i % 8),
            chart(&filter("path", "regex", &format!("\"{re}\""))),
        );
    }
    let many: Vec<String> = (0..17)
        .map(|i| filter("path", "regex", &format!("\"^/p{i}\"")))
        .collect();
    hostile(
        "regex-17-patterns",
        sel(Endpoint::All, 0),
        chart(&many.join(",")),
    );

    // NUL characters: percent-encoded in a plain value, a key and JSON text; escaped in JSON.
    hostile(
        "nul-name-pct",
        sel(Endpoint::All, 0),
        "events=[{\"name\":\"a%00b\"}]&range=7d".into(),
    );
    hostile(
        "nul-json-escape",
        sel(Endpoint::All, 0),
        chart(&filter("country", "is", r#""S\u0000E""#)),
    );
    hostile(
        "nul-property-key",
        sel(Endpoint::All, 0),
        chart(&filter("properties.a\\u0000b", "is", "\"x\"")),
    );
    hostile(
        "nul-events-plain",
        sel(Endpoint::Events, 0),
        "event=a%00&projectId=p%00&cursor=1%00".into(),
    );
    hostile(
        "nul-param-name",
        sel(Endpoint::All, 0),
        "ra%00nge=7d&events=[{\"name\":\"a\"}]".into(),
    );

    // Bracket notation (the JavaScript qs library's), including conflicts and limits.
    let brackets = "events[0][name]=screen_view&events[0][segment]=user&events[0][filters][0][name]=country&events[0][filters][0][operator]=is&events[0][filters][0][value][]=SE&events[0][filters][0][value][]=NO&events[1][name]=purchase&events[1][segment]=property_sum&events[1][property]=properties.total&breakdowns[0][name]=browser&range=30d&interval=week&previous=true";
    hostile("brackets-chart", sel(Endpoint::All, 1), brackets.into());
    hostile(
        "brackets-encoded",
        sel(Endpoint::All, 2),
        brackets.replace('[', "%5B").replace(']', "%5D"),
    );
    hostile(
        "brackets-index-1000",
        sel(Endpoint::Charts, 0),
        "events[1000][name]=a&events[0][name]=b&range=7d".into(),
    );
    hostile(
        "brackets-index-1001",
        sel(Endpoint::Charts, 0),
        "events[1001][name]=a".into(),
    );
    hostile(
        "brackets-conflict",
        sel(Endpoint::All, 0),
        "events=[{\"name\":\"a\"}]&events[0][name]=b&range=7d".into(),
    );
    let deep_key: String = (0..40).map(|i| format!("[k{i}]")).collect();
    hostile(
        "brackets-deep",
        sel(Endpoint::All, 0),
        format!("events{deep_key}=x&range=7d"),
    );
    hostile(
        "brackets-mixed-json",
        sel(Endpoint::Funnel, 4),
        "events[0]={\"name\":\"a\"}&events[1][name]=b&funnelWindow=24&funnelGroup=profile_id&range=30d".into(),
    );

    // Deep JSON: at and past serde_json's recursion limit, in a value and in a filter value.
    for n in [127, 129, 400] {
        hostile(
            &format!("deep-json-{n}"),
            sel(Endpoint::All, 0),
            format!("events={}{}&range=7d", "[".repeat(n), "]".repeat(n)),
        );
    }
    let deep_value = format!("{}\"x\"{}", "{\"a\":".repeat(100), "}".repeat(100));
    hostile(
        "deep-json-filter-value",
        sel(Endpoint::All, 0),
        chart(&filter("country", "is", &deep_value)),
    );

    // SQL fragments and placeholder look-alikes as values, names and properties.
    let sql_values =
        r#""' OR 1=1 --","{p1:String}","$1::text","?1","*/ DROP TABLE events; /*","\\","%_","\"""#;
    hostile(
        "sql-values",
        sel(Endpoint::All, 5),
        chart(&filter("country", "is", sql_values)),
    );
    hostile(
        "sql-contains",
        sel(Endpoint::All, 6),
        chart(&filter("properties.x'y", "contains", sql_values)),
    );
    hostile(
        "sql-breakdown-property",
        sel(Endpoint::Charts, 7),
        r#"events=[{"name":"e'); --"}]&breakdowns=[{"name":"properties.a\"b.c'd"}]&range=7d"#
            .into(),
    );
    hostile(
        "sql-event-names",
        sel(Endpoint::Events, 3),
        "event=a'b&event={p1:String}&event=$1&includes=properties,profile,meta&limit=50&page=3"
            .into(),
    );

    // Time and paging extremes.
    hostile(
        "time-minute-all-time",
        sel(Endpoint::All, 3),
        "events=[{\"name\":\"a\"}]&range=all_time&interval=minute".into(),
    );
    hostile(
        "time-custom-extremes",
        sel(Endpoint::All, 2),
        "events=[{\"name\":\"a\"}]&startDate=1900-01-01&endDate=2299-12-31T23:59:59.999Z&interval=month".into(),
    );
    hostile(
        "time-dst-gap",
        sel(Endpoint::All, 1),
        "events=[{\"name\":\"a\"}]&startDate=2024-03-31 02:30:00&endDate=2024-03-31 03:30:00&interval=minute&previous=true".into(),
    );
    hostile(
        "time-santiago-midnight",
        sel(Endpoint::All, 2),
        "events=[{\"name\":\"a\"}]&startDate=2024-09-08&endDate=2024-09-08&interval=hour&timezone=America/Santiago".into(),
    );
    hostile(
        "paging-extremes",
        sel(Endpoint::Events, 0),
        "limit=10000&page=9223372036854775807&cursor=18446744073709551616&start=2024-01-01&end=2023-01-01".into(),
    );
    hostile(
        "funnel-window-max",
        sel(Endpoint::Funnel, 5),
        "events=[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"a\"}]&funnelWindow=8760&funnelGroup=session_id&range=12m".into(),
    );
    hostile(
        "chart-property-segments",
        sel(Endpoint::Charts, 6),
        "events=[{\"name\":\"a\",\"segment\":\"property_average\",\"property\":\"properties.price\"},{\"name\":\"a\",\"segment\":\"one_event_per_user\"},{\"name\":\"*\",\"segment\":\"user_average\"}]&breakdowns=[{\"name\":\"profile.properties.plan\"}]&chartType=bar&metric=sum&range=6m&interval=week".into(),
    );
    // Found by the fuzzer (fuzz/artifacts-found/request): a numeric comparison on a
    // property without a numeric value.
    hostile(
        "numeric-filter-without-numbers",
        sel(Endpoint::All, 0),
        r#"filters=[{"name":"properties.r","operator":"gt","value":[true]}]&events=[{"name":"e","filters":[{"name":"properties.r","operator":"lte","value":["x",null]}]}]"#.into(),
    );
    let mut text = String::new();
    for i in 0..50 {
        write!(text, "&x{i}=%ZZ%C3%28%FF").unwrap();
    }
    hostile(
        "junk-params",
        sel(Endpoint::All, 0),
        format!("range=7d&events=[{{\"name\":\"a\"}}]{text}"),
    );
    seeds
}

fn qs_seeds() -> Vec<(String, Vec<u8>)> {
    let seeds: &[(&str, &[u8])] = &[
        ("empty", b""),
        ("separators", b"&&=&=x&a"),
        ("repeated", b"event=a&x=1&event=b&event=c"),
        ("repeated-json", br#"event=["a","b"]&event=["c"]&event=d"#),
        ("json-raw", br#"events=[{"name":"screen_view","filters":[{"name":"country","operator":"is","value":["SE"]}]}]&range=7d"#),
        ("json-encoded", b"events=%5B%7B%22name%22%3A+%22a+b%22%7D%5D"),
        ("json-invalid", b"events=[{\"name\":}]&ok=1"),
        ("json-scalars", b"a=1.5&b=null&c=\"x\"&d=true"),
        ("brackets", b"events[0][filters][0][name]=country&events[0][filters][0][value][]=SE&events[0][filters][0][value][]=NO"),
        ("brackets-conflict", b"a=1&a[x]=2&b[x]=1&b=2"),
        ("brackets-index", b"a[1000]=x&a[1001]=y&a[01]=z&a[-1]=w"),
        ("brackets-unbalanced", b"a[b[c]]=1&[x]=2&a]=3&a[=4&a[b]c=5"),
        ("brackets-deep", b"a[1][2][3][4][5][6][7][8][9][10][11][12][13][14][15][16][17][18][19][20][21][22]=x"),
        ("percent", b"q=hello+world&r=a%2Bb&s=%C3%A9&t=%zz&u=%&v=%F0%9F%98%80"),
        ("non-utf8", b"a=%FF%FE&b=\xff\xfe&\xc3=1"),
        ("nul", b"a%00=b&c=%00&d=[\"\\u0000\"]"),
        ("deep-json", b"a=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
    ];
    seeds
        .iter()
        .map(|(name, data)| (name.to_string(), data.to_vec()))
        .collect()
}

fn import_seeds() -> Vec<(String, Vec<u8>)> {
    let seeds: &[(&str, &str)] = &[
        (
            "full",
            r#"{"id":"11111111-1111-4111-8111-111111111111","name":"purchase","deviceId":"d1","profileId":"u1","sessionId":"s1","createdAt":"2024-04-15T12:34:56.789Z","properties":{"a":{"b":1},"items":[{"name":"x","qty":2},{"name":"y","tags":["t0","t1"]}],"total":19.99,"one":1.0,"half":-0.5,"big":12345678901234567890,"ok":true,"no":false,"gone":null,"nested":{"gone":null,"kept":"k"},"empty":{},"s":"text \"q\" ✓"},"country":"SE","city":"Stockholm","region":"Stockholm County","longitude":18.07,"latitude":59.33,"os":"macOS","osVersion":"14.4","browser":"Firefox","browserVersion":"125.0","device":"desktop","brand":"Apple","model":"MacBook","duration":1500,"path":"/checkout","origin":"https://shop.example","referrer":"https://google.com","referrerName":"Google","referrerType":"search","sdkName":"web","sdkVersion":"1.1.0","importedAt":"2024-04-16T00:00:00.000Z"}"#,
        ),
        (
            "minimal",
            r#"{"name":"screen_view","projectId":"p","createdAt":"2024-04-15T10:00:00Z"}"#,
        ),
        (
            "numbers-as-strings",
            r#"{"name":"a","projectId":"p","createdAt":"2024-04-15T10:34:56+02:00","duration":"1500","longitude":"18.07","latitude":"","profileId":42,"deviceId":true,"properties":{"e":1e21,"f":1.5e-7,"g":100.0,"h":-0.0,"i":0.1,"k":-7}}"#,
        ),
        (
            "epoch-ms",
            r#"{"name":"a","createdAt":1713184496789,"importedAt":-62135596800000,"duration":12.5}"#,
        ),
        (
            "other-project",
            r#"{"name":"a","projectId":"other","createdAt":"2024-04-15T10:00:00Z"}"#,
        ),
        (
            "nul-value",
            r#"{"name":"a","createdAt":"2024-04-15T10:00:00Z","city":"x\u0000y"}"#,
        ),
        (
            "nul-property-key",
            r#"{"name":"a","createdAt":"2024-04-15T10:00:00Z","properties":{"k\u0000":{"x":1}}}"#,
        ),
        (
            "nul-unknown-field",
            r#"{"name":"a","createdAt":"2024-04-15T10:00:00Z","extra\u0000":"\u0000"}"#,
        ),
        (
            "properties-array",
            r#"{"name":"a","createdAt":"2024-04-15T10:00:00Z","properties":[1,[2,{"x":null}],"s"]}"#,
        ),
        (
            "properties-dotted-keys",
            r#"{"name":"a","createdAt":"2024-04-15T10:00:00Z","properties":{"a.b":"1","a":{"b":"2"},"":"e"}}"#,
        ),
        (
            "bad-types",
            r#"{"name":["a"],"createdAt":"2024-13-45T99:00:00Z","duration":"x","properties":"s"}"#,
        ),
        (
            "time-extremes",
            r#"{"name":"a","createdAt":"+275760-09-13T00:00:00Z","importedAt":"0000-01-01T00:00:00.999999999-23:59","duration":1e300}"#,
        ),
        ("not-object", r#"["name","a"]"#),
        (
            "deep",
            &format!(
                "{{\"name\":\"a\",\"createdAt\":1,\"properties\":{}1{}}}",
                "{\"a\":".repeat(120),
                "}".repeat(120)
            ),
        ),
    ];
    seeds
        .iter()
        .map(|(name, data)| (name.to_string(), data.as_bytes().to_vec()))
        .collect()
}
