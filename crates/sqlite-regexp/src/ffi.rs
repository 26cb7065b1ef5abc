//! The unsafe code of this crate: registering `regexp` on a connection, and the
//! C callback SQLite calls for each `regexp(pattern, text)`.
#![allow(unsafe_code)]

use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use libsqlite3_sys as sqlite;
use sqlx::sqlite::LockedSqliteHandle;

use crate::{REJECTED, RegisterError};

/// The same answer for the same arguments (so SQLite may factor constant calls out), and
/// no side effects (so it may be used in views and triggers).
const FLAGS: c_int = sqlite::SQLITE_UTF8 | sqlite::SQLITE_DETERMINISTIC | sqlite::SQLITE_INNOCUOUS;

pub(crate) fn register(handle: &mut LockedSqliteHandle<'_>) -> Result<(), RegisterError> {
    let db = handle.as_raw_handle();
    // SAFETY: `db` is an open connection, and the locked handle keeps sqlx's worker thread
    // from using or closing it while we hold `handle`.
    unsafe { register_on(db.as_ptr()) }
}

pub(crate) fn register_rusqlite(conn: &rusqlite::Connection) -> Result<(), RegisterError> {
    // SAFETY: the handle of an open connection, which `conn`'s borrow keeps open; nothing
    // else uses it during the call (a rusqlite connection is not `Sync`).
    unsafe { register_on(conn.handle()) }
}

/// Register `regexp` on the connection `db`.
///
/// # Safety
///
/// `db` must be an open connection that no other thread uses during the call.
unsafe fn register_on(db: *mut sqlite::sqlite3) -> Result<(), RegisterError> {
    // SAFETY: as the caller promises for `db`. The name is a NUL-terminated static string;
    // there is no user data pointer, so no destructor is needed; `regexp` has the signature
    // SQLite expects of a scalar function with 2 arguments.
    let rc = unsafe {
        sqlite::sqlite3_create_function_v2(
            db,
            c"regexp".as_ptr(),
            2,
            FLAGS,
            ptr::null_mut(),
            Some(regexp),
            None,
            None,
            None,
        )
    };
    if rc == sqlite::SQLITE_OK {
        Ok(())
    } else {
        Err(RegisterError(rc))
    }
}

/// `regexp(pattern, text)`: 1 or 0, 0 when either is NULL, an error when the pattern does
/// not compile.
unsafe extern "C" fn regexp(
    ctx: *mut sqlite::sqlite3_context,
    argc: c_int,
    argv: *mut *mut sqlite::sqlite3_value,
) {
    if argc != 2 || argv.is_null() {
        // SAFETY: `ctx` is the context SQLite passed to this call; the message is a static
        // NUL-terminated string (-1: read up to the NUL).
        unsafe { sqlite::sqlite3_result_error(ctx, c"regexp takes 2 arguments".as_ptr(), -1) };
        return;
    }
    // SAFETY: SQLite passes `argc` (here 2) value pointers in `argv`.
    let (first, second) = unsafe { (*argv, *argv.add(1)) };
    // SAFETY: both are this call's arguments, and the slices are only used during the
    // call; each value is converted once, so one's text is not invalidated by the other.
    let (pattern, text) = unsafe { (text_of(first), text_of(second)) };
    let outcome = match (pattern, text) {
        (Text::Null, _) | (_, Text::Null) => Ok(false),
        (Text::NoMemory, _) | (_, Text::NoMemory) => {
            // SAFETY: `ctx` is this call's context.
            unsafe { sqlite::sqlite3_result_error_nomem(ctx) };
            return;
        }
        (Text::Bytes(pattern), Text::Bytes(text)) => {
            match (std::str::from_utf8(pattern), std::str::from_utf8(text)) {
                (Err(_), _) => Err(format!("{REJECTED}the pattern is not valid UTF-8")),
                (_, Err(_)) => Err("regexp: the text is not valid UTF-8".to_string()),
                // A panic must not unwind into SQLite's C frames.
                (Ok(pattern), Ok(text)) => {
                    catch_unwind(AssertUnwindSafe(|| crate::is_match(pattern, text)))
                        .unwrap_or_else(|_| Err("regexp: internal error".to_string()))
                }
            }
        }
    };
    match outcome {
        // SAFETY: `ctx` is this call's context.
        Ok(matched) => unsafe { sqlite::sqlite3_result_int(ctx, c_int::from(matched)) },
        Err(message) => {
            let len = c_int::try_from(message.len()).unwrap_or(c_int::MAX);
            // SAFETY: `ctx` is this call's context; SQLite copies the `len` bytes of the
            // message before returning, so the buffer may be dropped afterwards.
            unsafe { sqlite::sqlite3_result_error(ctx, message.as_ptr().cast(), len) };
        }
    }
}

enum Text<'a> {
    Null,
    NoMemory,
    Bytes(&'a [u8]),
}

/// The value as UTF-8 text (numbers converted, as SQLite's `sqlite3_value_text` does).
///
/// # Safety
///
/// `value` must be an argument of the running function call; the slice must not be used
/// after the call returns.
unsafe fn text_of<'a>(value: *mut sqlite::sqlite3_value) -> Text<'a> {
    // SAFETY: the caller passes a valid value of this call.
    let kind = unsafe { sqlite::sqlite3_value_type(value) };
    if kind == sqlite::SQLITE_NULL {
        return Text::Null;
    }
    // SAFETY: as above. `sqlite3_value_text` comes first: it may convert the value, and
    // `sqlite3_value_bytes` then gives the length of that text.
    let (data, len) = unsafe {
        let data = sqlite::sqlite3_value_text(value);
        (data, sqlite::sqlite3_value_bytes(value))
    };
    if data.is_null() {
        // An empty BLOB has no buffer; any other value without text means SQLite could not
        // allocate the conversion.
        return if kind == sqlite::SQLITE_BLOB && len == 0 {
            Text::Bytes(&[])
        } else {
            Text::NoMemory
        };
    }
    let len = usize::try_from(len).unwrap_or(0);
    // SAFETY: SQLite guarantees `len` readable bytes at `data` until the value is changed
    // or the call returns, and this function's caller uses the slice only within the call.
    Text::Bytes(unsafe { std::slice::from_raw_parts(data, len) })
}
