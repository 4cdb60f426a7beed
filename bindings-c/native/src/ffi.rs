// SPDX-License-Identifier: MIT OR Apache-2.0
//! The only module (with `runtime`'s fork check) that touches raw pointers: turning C
//! arguments into Rust references, strings and slices, writing out-parameters, and the
//! ownership of opaque handles. Every exported function goes through these helpers and
//! [`boundary`], so the rules are in one place:
//!
//! - A NULL pointer is never dereferenced: it becomes `PR_ERR_NULL_ARGUMENT` naming the
//!   argument. Misaligned pointers are refused the same way (`PR_ERR_INVALID_ARGUMENT`).
//! - A non-NULL pointer is trusted to be what the header says (a live handle of that type,
//!   a NUL-terminated string, an array of at least `count` elements): C cannot prove more,
//!   and this is the contract every C library has. Counts are bounded before any array is
//!   read.
//! - Out-parameters are written once, at the end of a successful call, and never on
//!   failure.
//! - No panic crosses `extern "C"`: [`boundary`] catches it and returns `PR_ERR_PANIC`.

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{ErrorInfo, pr_error, pr_result};

/// An opaque C handle type and the Rust value a `Box` of it holds. Implemented only for the
/// zero-sized `pr_*` marker structs, so a handle pointer can only be turned back into the
/// Rust type it was made from.
pub(crate) trait Handle {
    /// The Rust value behind the handle.
    type Inner;
}

impl Handle for pr_error {
    type Inner = ErrorInfo;
}

/// Moves `value` to the heap and returns it as an opaque handle pointer.
pub(crate) fn into_handle<H: Handle>(value: H::Inner) -> *mut H {
    Box::into_raw(Box::new(value)).cast::<H>()
}

/// Frees a handle made by [`into_handle`]; NULL is a no-op.
pub(crate) fn free_handle<H: Handle>(ptr: *mut H) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: a non-NULL handle pointer was made by `into_handle::<H>` from a
    // `Box<H::Inner>` (the `Handle` trait ties the marker to that type) and the C contract
    // is that it is freed once and not used after; `from_raw` takes that box back.
    drop(unsafe { Box::from_raw(ptr.cast::<H::Inner>()) });
}

/// Borrows the value behind a handle, or fails naming the argument.
pub(crate) fn handle_ref<'a, H: Handle>(
    ptr: *const H,
    name: &str,
) -> Result<&'a H::Inner, ErrorInfo> {
    if ptr.is_null() {
        return Err(ErrorInfo::null(name));
    }
    let p = ptr.cast::<H::Inner>();
    if !p.is_aligned() {
        return Err(ErrorInfo::invalid(name, "misaligned handle pointer"));
    }
    // SAFETY: non-NULL and aligned; by the C contract a handle argument points to a live
    // handle of this type made by `into_handle::<H>` (a `Box<H::Inner>`), which the caller
    // does not free during the call. Only shared access is handed out.
    Ok(unsafe { &*p })
}

/// Borrows a `#[repr(C)]` struct argument that may be NULL.
pub(crate) fn opt_ref<'a, T>(ptr: *const T, name: &str) -> Result<Option<&'a T>, ErrorInfo> {
    if ptr.is_null() {
        return Ok(None);
    }
    if !ptr.is_aligned() {
        return Err(ErrorInfo::invalid(name, "misaligned pointer"));
    }
    // SAFETY: non-NULL and aligned; by the C contract it points to a valid, initialised `T`
    // that lives through the call.
    Ok(Some(unsafe { &*ptr }))
}

/// A required NUL-terminated UTF-8 string argument.
pub(crate) fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, ErrorInfo> {
    if ptr.is_null() {
        return Err(ErrorInfo::null(name));
    }
    // SAFETY: non-NULL; by the C contract a string argument is NUL-terminated and lives
    // through the call.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str()
        .map_err(|_| ErrorInfo::invalid(name, "not valid UTF-8"))
}

/// An optional string argument (NULL: `None`).
pub(crate) fn opt_str_arg<'a>(
    ptr: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, ErrorInfo> {
    if ptr.is_null() {
        Ok(None)
    } else {
        str_arg(ptr, name).map(Some)
    }
}

/// An array argument of `count` elements, `count` at most `max`. NULL is accepted only for
/// `count == 0`.
pub(crate) fn slice_arg<'a, T>(
    ptr: *const T,
    count: usize,
    max: usize,
    name: &str,
) -> Result<&'a [T], ErrorInfo> {
    if count > max {
        return Err(ErrorInfo::invalid(
            name,
            format!("count {count} is above the limit of {max}"),
        ));
    }
    if count == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(ErrorInfo::null(name));
    }
    if !ptr.is_aligned() {
        return Err(ErrorInfo::invalid(name, "misaligned array pointer"));
    }
    // SAFETY: non-NULL, aligned, `count` bounded by `max` (so the byte size cannot
    // overflow for the element types used here); by the C contract the array holds at least
    // `count` initialised elements that live through the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, count) })
}

/// A checked, not yet written, out-parameter.
pub(crate) struct Out<T> {
    ptr: *mut T,
}

impl<T> Out<T> {
    /// Checks an out-parameter (required: NULL is an error naming it).
    pub(crate) fn new(ptr: *mut T, name: &str) -> Result<Self, ErrorInfo> {
        if ptr.is_null() {
            return Err(ErrorInfo::null(name));
        }
        if !ptr.is_aligned() {
            return Err(ErrorInfo::invalid(name, "misaligned pointer"));
        }
        Ok(Out { ptr })
    }

    /// Writes the value (the only write, at the end of a successful call).
    pub(crate) fn write(self, value: T) {
        // SAFETY: non-NULL and aligned (checked in `new`); by the C contract it points to
        // writable storage for a `T` of the caller's. `write` does not read or drop the old
        // (possibly uninitialised) contents.
        unsafe { self.ptr.write(value) }
    }
}

/// Writes an error object to `err` (when not NULL) and returns its code.
pub(crate) fn fail(err: *mut *mut pr_error, info: ErrorInfo) -> pr_result {
    let code = info.code;
    if !err.is_null() && err.is_aligned() {
        let h = into_handle::<pr_error>(info);
        // SAFETY: non-NULL and aligned; by the C contract `err` points to a writable
        // `pr_error *`. Its old value is overwritten, not freed (it is documented as an
        // out-parameter only).
        unsafe { err.write(h) };
    }
    code
}

/// The panic boundary of every fallible export: runs `f`, returns `PR_OK`, or the error's
/// code (writing the error object to `err`), or `PR_ERR_PANIC` if `f` panicked.
pub(crate) fn boundary(
    err: *mut *mut pr_error,
    f: impl FnOnce() -> Result<(), ErrorInfo>,
) -> pr_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => pr_result::PR_OK,
        Ok(Err(info)) => fail(err, info),
        Err(panic) => fail(
            err,
            ErrorInfo::new(
                pr_result::PR_ERR_PANIC,
                format!("internal error: {}", panic_message(panic.as_ref())),
            ),
        ),
    }
}

/// The panic boundary of infallible exports (getters, frees): the value of `f`, or
/// `default` if it panicked.
pub(crate) fn boundary_or<R>(default: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

/// The text of a panic payload.
pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}
