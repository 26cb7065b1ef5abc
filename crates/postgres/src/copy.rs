//! Event import with binary `COPY … FROM STDIN`: each value is sent in the column type's
//! own binary form (no text escaping on our side, no parsing of numbers or timestamps on
//! the server's), either into a session-local staging table (rows are then moved with
//! `ON CONFLICT (id) DO NOTHING`) or, for a large load into an empty table, straight into
//! `events`.

use quarry_core::event::NewEvent;

use crate::{Error, check_text};

/// Create the session's staging table on first use, else empty it. A `DO` block rather
/// than `CREATE TEMP TABLE IF NOT EXISTS`, whose notice would be logged on every batch.
/// Its columns are those of `events`, so the binary rows fit both.
pub(crate) const STAGE: &str = "DO $$ BEGIN
    IF to_regclass('pg_temp.quarry_stage_events') IS NULL THEN
        CREATE TEMP TABLE quarry_stage_events (LIKE events) ON COMMIT DELETE ROWS;
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

/// Binary rows into the staging table.
pub(crate) const COPY_STAGE: &str = concat!(
    "COPY pg_temp.quarry_stage_events (",
    columns!(),
    ") FROM STDIN (FORMAT binary)"
);

/// Binary rows straight into `events` (a large load into an empty table, its unique
/// index dropped until the load ends).
pub(crate) const COPY_EVENTS: &str =
    concat!("COPY events (", columns!(), ") FROM STDIN (FORMAT binary)");

/// Staged rows into `events`; ids already stored (or repeated in the batch) are skipped.
pub(crate) const MOVE: &str = concat!(
    "INSERT INTO events (",
    columns!(),
    ") SELECT ",
    columns!(),
    " FROM pg_temp.quarry_stage_events ON CONFLICT (id) DO NOTHING"
);

/// The number of columns [`event_rows`] writes per row.
const COLUMNS: i16 = 29;

/// The binary COPY header: signature, flags (none), header extension length (none).
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00 UTC).
const PG_EPOCH_MS: i64 = 946_684_800_000;

/// One binary COPY tuple being written: each field is its length (-1 for NULL) and bytes.
struct Tuple<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Tuple<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.extend_from_slice(&COLUMNS.to_be_bytes());
        Tuple { out }
    }

    /// A field's length prefix: its byte count, which COPY reads as an `int4`.
    fn length(&mut self, n: usize) -> Result<(), Error> {
        let len =
            i32::try_from(n).map_err(|_| Error::Unsupported("a value longer than 2 GiB".into()))?;
        self.out.extend_from_slice(&len.to_be_bytes());
        Ok(())
    }

    fn text(&mut self, s: &str) -> Result<(), Error> {
        self.length(s.len())?;
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    /// `jsonb`'s binary form: a version byte (1), then the JSON text.
    fn jsonb(&mut self, json: &str) -> Result<(), Error> {
        self.length(json.len() + 1)?;
        self.out.push(1);
        self.out.extend_from_slice(json.as_bytes());
        Ok(())
    }

    fn int8(&mut self, i: i64) {
        self.out.extend_from_slice(&8i32.to_be_bytes());
        self.out.extend_from_slice(&i.to_be_bytes());
    }

    fn float8(&mut self, f: Option<f64>) {
        match f {
            Some(f) => {
                self.out.extend_from_slice(&8i32.to_be_bytes());
                self.out.extend_from_slice(&f.to_bits().to_be_bytes());
            }
            None => self.null(),
        }
    }

    /// `timestamptz`'s binary form: microseconds since 2000-01-01 UTC (exact for every
    /// millisecond; the server refuses what lies outside its range).
    fn timestamptz(&mut self, ms: Option<i64>, what: &dyn Fn() -> String) -> Result<(), Error> {
        let Some(ms) = ms else {
            self.null();
            return Ok(());
        };
        let micros = ms
            .checked_sub(PG_EPOCH_MS)
            .and_then(|ms| ms.checked_mul(1_000))
            .ok_or_else(|| Error::Unsupported(format!("{}: timestamp out of range", what())))?;
        self.int8(micros);
        Ok(())
    }

    fn null(&mut self) {
        self.out.extend_from_slice(&(-1i32).to_be_bytes());
    }
}

/// The batch as one binary COPY stream (header, rows, trailer), in [`columns!`] order.
pub(crate) fn event_rows(events: &[NewEvent]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(HEADER.len() + events.len() * 400 + 2);
    out.extend_from_slice(HEADER);
    for e in events {
        let what = || format!("event {:?}", e.id);
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
        let properties = e.properties.iter().flat_map(|(k, v)| [k, v]);
        // Naming the event costs an allocation: only for the (rare) refusal.
        if let Some(t) = texts
            .into_iter()
            .chain(properties)
            .find(|t| t.contains('\0'))
        {
            check_text(t, &what())?;
        }
        let props = serde_json::to_string(&e.properties).unwrap_or_else(|_| "{}".into());
        let mut row = Tuple::new(&mut out);
        row.text(&e.id)?;
        row.text(&e.name)?;
        row.text(&e.device_id)?;
        row.text(&e.profile_id)?;
        row.text(&e.project_id)?;
        row.text(&e.session_id)?;
        row.jsonb(&props)?;
        row.timestamptz(Some(e.created_at), &what)?;
        row.text(&e.country)?;
        row.text(&e.city)?;
        row.text(&e.region)?;
        row.float8(e.longitude);
        row.float8(e.latitude);
        row.text(&e.os)?;
        row.text(&e.os_version)?;
        row.text(&e.browser)?;
        row.text(&e.browser_version)?;
        row.text(&e.device)?;
        row.text(&e.brand)?;
        row.text(&e.model)?;
        row.int8(e.duration);
        row.text(&e.path)?;
        row.text(&e.origin)?;
        row.text(&e.referrer)?;
        row.text(&e.referrer_name)?;
        row.text(&e.referrer_type)?;
        row.text(&e.sdk_name)?;
        row.text(&e.sdk_version)?;
        row.timestamptz(e.imported_at, &what)?;
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank(id: &str) -> NewEvent {
        NewEvent {
            id: id.into(),
            ..NewEvent::default()
        }
    }

    /// Walk a binary COPY stream: the fields of each tuple (None for NULL).
    fn tuples(data: &[u8]) -> Vec<Vec<Option<Vec<u8>>>> {
        assert!(data.starts_with(HEADER));
        let mut at = HEADER.len();
        let mut rows = Vec::new();
        loop {
            let n = i16::from_be_bytes([data[at], data[at + 1]]);
            at += 2;
            if n == -1 {
                assert_eq!(at, data.len(), "bytes after the trailer");
                return rows;
            }
            let mut row = Vec::new();
            for _ in 0..n {
                let len = i32::from_be_bytes(data[at..at + 4].try_into().unwrap_or([0; 4]));
                at += 4;
                if len < 0 {
                    row.push(None);
                } else {
                    row.push(Some(data[at..at + len as usize].to_vec()));
                    at += len as usize;
                }
            }
            rows.push(row);
        }
    }

    #[test]
    fn every_column_is_written_once_per_row() {
        let columns = columns!().split(", ").count();
        assert_eq!(columns, COLUMNS as usize);
        let e = NewEvent {
            longitude: Some(1.5),
            created_at: PG_EPOCH_MS + 1,
            ..blank("a")
        };
        let rows = tuples(&event_rows(&[e.clone(), e]).unwrap_or_default());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].len(), columns);
        // id, properties (jsonb version 1), created_at (1 ms after 2000-01-01), longitude,
        // latitude (NULL), imported_at (NULL).
        assert_eq!(rows[0][0].as_deref(), Some(&b"a"[..]));
        assert_eq!(rows[0][6].as_deref(), Some(&b"\x01{}"[..]));
        assert_eq!(rows[0][7].as_deref(), Some(&1_000i64.to_be_bytes()[..]));
        assert_eq!(
            rows[0][11].as_deref(),
            Some(&1.5f64.to_bits().to_be_bytes()[..])
        );
        assert_eq!(rows[0][12], None);
        assert_eq!(rows[0][28], None);
    }

    #[test]
    fn timestamps_before_2000_and_out_of_range() {
        let e = NewEvent {
            created_at: 0,
            ..blank("a")
        };
        let rows = tuples(&event_rows(&[e]).unwrap_or_default());
        assert_eq!(
            rows[0][7].as_deref(),
            Some(&(-PG_EPOCH_MS * 1_000).to_be_bytes()[..])
        );
        let far = NewEvent {
            created_at: i64::MAX,
            ..blank("b")
        };
        let err = event_rows(&[far])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("out of range"), "{err}");
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
