// SPDX-License-Identifier: MIT OR Apache-2.0
//! The only module that touches raw pointers and file descriptors: turning C arguments
//! into Rust references, strings, slices and descriptors, writing out-parameters, and the
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

use std::ffi::{CStr, c_char, c_int, c_void};
use std::os::fd::{FromRawFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};

use pr_multipath::blocking::runtime::panic_message;

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

/// A C `void *user_data`: handed back to the caller's callback as is, never dereferenced
/// by the library.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UserData(pub(crate) *mut c_void);

// SAFETY: the library never dereferences the pointer; it only passes it back to the
// callback it was given with, from whichever thread. The C contract (documented with each
// callback) makes the caller responsible for what it points to being usable there.
unsafe impl Send for UserData {}
// SAFETY: as for `Send`: shared references only copy the pointer value.
unsafe impl Sync for UserData {}

/// A duplicate of the caller's descriptor `fd` (close-on-exec), owned by the library: the
/// caller keeps and may close its own. A negative value is an invalid argument; a value
/// that is not an open descriptor is `PR_ERR_NOT_FOUND`.
pub(crate) fn dup_fd(fd: c_int, name: &str) -> Result<OwnedFd, ErrorInfo> {
    if fd < 0 {
        return Err(ErrorInfo::invalid(
            name,
            format!("{fd} is not a file descriptor"),
        ));
    }
    // SAFETY: F_DUPFD_CLOEXEC reads no memory of ours; on a value that is not an open
    // descriptor it fails with EBADF and changes nothing.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        let e = std::io::Error::last_os_error();
        let code = if e.raw_os_error() == Some(libc::EBADF) {
            pr_result::PR_ERR_NOT_FOUND
        } else {
            pr_result::PR_ERR_OS
        };
        return Err(ErrorInfo::new(
            code,
            format!("file descriptor {fd}: cannot use it: {e}"),
        ));
    }
    // SAFETY: `new` is a descriptor fcntl just created for us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// A versioned options struct argument, which may be NULL (`Ok(None)`: the defaults). Its
/// first field is a `size_t struct_size` the caller sets to `sizeof` the struct as its
/// header declares it; `min` is the size of the struct's first published version. A
/// caller built with an older header (`min <= struct_size < size_of::<T>()`) gets
/// `default`'s values for the fields it does not know; a size outside that range (a
/// header newer than this library, or a field never set) is refused, naming the argument.
/// `T` must be `#[repr(C)]` with a `usize` at offset 0 (checked by its users at compile
/// time) and valid for whatever values C's types give its fields.
pub(crate) fn sized_opt_ref<T: Copy>(
    ptr: *const T,
    min: usize,
    default: T,
    name: &str,
) -> Result<Option<T>, ErrorInfo> {
    if ptr.is_null() {
        return Ok(None);
    }
    if !ptr.is_aligned() {
        return Err(ErrorInfo::invalid(name, "misaligned pointer"));
    }
    // SAFETY: non-NULL and aligned for `T`, whose first field is a `usize` at offset 0 (so
    // aligned for it too); by the C contract it points to at least that field.
    let size = unsafe { ptr.cast::<usize>().read() };
    let max = std::mem::size_of::<T>();
    if size < min || size > max {
        return Err(ErrorInfo::invalid(
            name,
            format!(
                "struct_size is {size}; this library takes {min} to {max} (set it to sizeof the \
                 struct; a larger one comes from a newer header than this library)"
            ),
        ));
    }
    let mut out = default;
    // SAFETY: the caller's struct has `size` bytes (the C contract of `struct_size`),
    // `size <= size_of::<T>()` so the copy stays inside `out`; the regions do not overlap
    // (`out` is a local). The bytes copied are whole fields of `T`'s earlier versions
    // (versions only ever append fields), each holding a value of its C type.
    unsafe {
        std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), (&raw mut out).cast::<u8>(), size);
    }
    Ok(Some(out))
}
