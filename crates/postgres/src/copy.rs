//! Event import with `COPY … FROM STDIN` (text format) through a staging table.

use quarry_core::event::NewEvent;

use crate::{Error, check_text};

/// Create the session's staging table on first use, else empty it. A `DO` block rather
/// than `CREATE TEMP TABLE IF NOT EXISTS`, whose notice would be logged on every batch.
/// Timestamps are staged as epoch milliseconds and converted exactly in [`MOVE`].
pub(crate) const STAGE: &str = "DO $$ BEGIN
    IF to_regclass('pg_temp.quarry_stage_events') IS NULL THEN
        CREATE TEMP TABLE quarry_stage_events (
            id text, name text, device_id text, profile_id text, project_id text,
            session_id text, properties jsonb, created_at bigint, country text, city text,
            region text, longitude double precision, latitude double precision, os text,
            os_version text, browser text, browser_version text, device text, brand text,
            model text, duration bigint, path text, origin text, referrer text,
            referrer_name text, referrer_type text, sdk_name text, sdk_version text,
            imported_at bigint
        ) ON COMMIT DELETE ROWS;
    ELSE
        TRUNCATE pg_temp.quarry_stage_events;
    END IF;
END $$";

/// The columns in the order [`event_rows`] writes them.
macro_rules! columns {
    () => {
        "id, name, device_id, profile_id, project_id, session_id, properties, created_at, \
         country, city, region, longitude, latitude, os, os_version, browser, browser_version, \
         device, brand, model, duration, path, origin, referrer, referrer_name, referrer_type, \
         sdk_name, sdk_version, imported_at"
    };
}

pub(crate) const COPY: &str = concat!(
    "COPY pg_temp.quarry_stage_events (",
    columns!(),
    ") FROM STDIN"
);

/// Staged rows into `events`; ids already stored (or repeated in the batch) are skipped.
pub(crate) const MOVE: &str = concat!(
    "INSERT INTO events (",
    columns!(),
    ") SELECT id, name, device_id, profile_id, project_id, session_id, properties, \
     TIMESTAMPTZ 'epoch' + created_at * INTERVAL '1 millisecond', country, city, region, \
     longitude, latitude, os, os_version, browser, browser_version, device, brand, model, \
     duration, path, origin, referrer, referrer_name, referrer_type, sdk_name, sdk_version, \
     TIMESTAMPTZ 'epoch' + imported_at * INTERVAL '1 millisecond' \
     FROM pg_temp.quarry_stage_events ON CONFLICT (id) DO NOTHING"
);

/// One `COPY` text-format line being written: fields separated by tabs, `\N` for NULL.
struct Line<'a> {
    out: &'a mut String,
    first: bool,
}

impl Line<'_> {
    fn sep(&mut self) {
        if !self.first {
            self.out.push('\t');
        }
        self.first = false;
    }

    /// Text with COPY's backslash escapes for the characters that would end a field or a
    /// line (and for the backslash itself); everything else is sent as is (UTF-8).
    fn text(&mut self, s: &str) {
        self.sep();
        push_escaped(self.out, s);
    }

    fn int(&mut self, i: i64) {
        self.sep();
        self.out.push_str(&i.to_string());
    }

    fn opt_int(&mut self, i: Option<i64>) {
        match i {
            Some(i) => self.int(i),
            None => self.null(),
        }
    }

    fn opt_float(&mut self, f: Option<f64>) {
        let Some(f) = f else {
            return self.null();
        };
        self.sep();
        // Rust prints the shortest text that reads back as the same double.
        let text = if f.is_nan() {
            "NaN".to_string()
        } else if f.is_infinite() {
            if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
        } else {
            f.to_string()
        };
        self.out.push_str(&text);
    }

    fn null(&mut self) {
        self.sep();
        self.out.push_str("\\N");
    }

    fn end(self) {
        self.out.push('\n');
    }
}

/// Escape `s` for a COPY text-format field.
pub(crate) fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// The batch as COPY text-format data, in [`columns!`] order.
pub(crate) fn event_rows(events: &[NewEvent]) -> Result<Vec<u8>, Error> {
    let mut out = String::with_capacity(events.len() * 320);
    for e in events {
        let what = format!("event {:?}", e.id);
        let texts = [
            &e.id,
            &e.name,
            &e.device_id,
            &e.profile_id,
            &e.project_id,
            &e.session_id,
            &e.country,
            &e.city,
            &e.region,
            &e.os,
            &e.os_version,
            &e.browser,
            &e.browser_version,
            &e.device,
            &e.brand,
            &e.model,
            &e.path,
            &e.origin,
            &e.referrer,
            &e.referrer_name,
            &e.referrer_type,
            &e.sdk_name,
            &e.sdk_version,
        ];
        for t in texts {
            check_text(t, &what)?;
        }
        for (k, v) in &e.properties {
            check_text(k, &what)?;
            check_text(v, &what)?;
        }
        let props = serde_json::to_string(&e.properties).unwrap_or_else(|_| "{}".into());
        let mut line = Line {
            out: &mut out,
            first: true,
        };
        line.text(&e.id);
        line.text(&e.name);
        line.text(&e.device_id);
        line.text(&e.profile_id);
        line.text(&e.project_id);
        line.text(&e.session_id);
        line.text(&props);
        line.int(e.created_at);
        line.text(&e.country);
        line.text(&e.city);
        line.text(&e.region);
        line.opt_float(e.longitude);
        line.opt_float(e.latitude);
        line.text(&e.os);
        line.text(&e.os_version);
        line.text(&e.browser);
        line.text(&e.browser_version);
        line.text(&e.device);
        line.text(&e.brand);
        line.text(&e.model);
        line.int(e.duration);
        line.text(&e.path);
        line.text(&e.origin);
        line.text(&e.referrer);
        line.text(&e.referrer_name);
        line.text(&e.referrer_type);
        line.text(&e.sdk_name);
        line.text(&e.sdk_version);
        line.opt_int(e.imported_at);
        line.end();
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        push_escaped(&mut out, s);
        out
    }

    #[test]
    fn escapes_field_and_line_separators_and_backslashes() {
        assert_eq!(escaped("plain"), "plain");
        assert_eq!(escaped("a\tb"), "a\\tb");
        assert_eq!(escaped("a\nb\r\n"), "a\\nb\\r\\n");
        assert_eq!(escaped(r"C:\dir\N"), r"C:\\dir\\N");
        assert_eq!(escaped(r#"{"q":"\"x\""}"#), r#"{"q":"\\"x\\""}"#);
        assert_eq!(escaped("åäö 😀 '\""), "åäö 😀 '\"");
        // A lone `\N` (NULL) or `\.` (end of data) can never be produced from text.
        assert_eq!(escaped("\\N"), "\\\\N");
        assert_eq!(escaped("\\."), "\\\\.");
    }

    fn blank(id: &str) -> NewEvent {
        NewEvent {
            id: id.into(),
            ..NewEvent::default()
        }
    }

    #[test]
    fn every_column_is_written_once_per_line() {
        let columns = columns!().split(", ").count();
        let e = NewEvent {
            longitude: Some(1.5),
            ..blank("a")
        };
        let data =
            String::from_utf8(event_rows(&[e.clone(), e]).unwrap_or_default()).unwrap_or_default();
        let lines: Vec<&str> = data.split_terminator('\n').collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].split('\t').count(), columns);
        assert!(lines[0].ends_with("\\N"));
    }

    #[test]
    fn nul_is_refused() {
        let e = NewEvent {
            path: "x\0y".into(),
            ..blank("a")
        };
        let err = event_rows(&[e])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("NUL"), "{err}");
    }
}
