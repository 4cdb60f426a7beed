// SPDX-License-Identifier: MIT OR Apache-2.0
//! Rust-side tests of the C API: version macros, result-code bands, the panic boundary,
//! the runtime thread (start, exit, restart, callers that run tokio themselves), error
//! codes of bad names, the simulated cluster, the log callback. The C programs in
//! `tests/c/` (run by `test.sh`) test the API as C sees it.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use pr_multipath::blocking::{self, runtime};

use crate::error::ErrorInfo;
use crate::*;

/// The runtime is process-wide: tests that start or stop it run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

pub(crate) fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn text(p: *const std::ffi::c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: the library returns NUL-terminated strings that live as long as their owner,
    // which the caller keeps alive.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

#[test]
fn version_macros_match_the_package_version() {
    let parse = |s: &str| s.parse::<u32>().unwrap();
    assert_eq!(PR_SDK_VERSION_MAJOR, parse(env!("CARGO_PKG_VERSION_MAJOR")));
    assert_eq!(PR_SDK_VERSION_MINOR, parse(env!("CARGO_PKG_VERSION_MINOR")));
    assert_eq!(PR_SDK_VERSION_PATCH, parse(env!("CARGO_PKG_VERSION_PATCH")));
    assert_eq!(text(pr_sdk_version()), env!("CARGO_PKG_VERSION"));
    // Each component lands in its own byte (rustls-ffi once used MINOR twice).
    assert_eq!(PR_SDK_VERSION_NUMBER >> 16, PR_SDK_VERSION_MAJOR);
    assert_eq!((PR_SDK_VERSION_NUMBER >> 8) & 0xff, PR_SDK_VERSION_MINOR);
    assert_eq!(PR_SDK_VERSION_NUMBER & 0xff, PR_SDK_VERSION_PATCH);
    assert_eq!(pr_sdk_version_number(), PR_SDK_VERSION_NUMBER);
}

#[test]
fn result_codes_are_unique_banded_and_described() {
    let mut seen = std::collections::HashSet::new();
    for r in pr_result::ALL {
        let v = r as u32;
        assert!(seen.insert(v), "{r:?} reuses {v}");
        assert!(
            v == 0 || (7000..7500).contains(&v),
            "{r:?} = {v} is outside the bands"
        );
        assert_eq!(pr_result::from_u32(v), Some(r));
        assert_eq!(r.message_c().to_str().unwrap(), r.message());
        assert_eq!(text(pr_result_message(v)), r.message());
    }
    assert_eq!(text(pr_result_message(1)), "unknown result code");
    assert_eq!(pr_result::from_u32(7399), None);
}

#[test]
fn a_panic_becomes_pr_err_panic_with_a_message() {
    let mut err: *mut pr_error = ptr::null_mut();
    let r = crate::ffi::boundary(&mut err, || panic!("boom {}", 42));
    assert_eq!(r, pr_result::PR_ERR_PANIC);
    assert_eq!(pr_error_code(err), pr_result::PR_ERR_PANIC);
    assert!(text(pr_error_message(err)).contains("boom 42"));
    pr_error_free(err);
    // A getter's boundary gives its default.
    assert_eq!(crate::ffi::boundary_or(7u8, || panic!("x")), 7);
}

#[test]
fn a_panic_on_the_runtime_thread_is_answered_and_the_thread_survives() {
    let _g = serial();
    let r = blocking::block_on(async {
        if std::hint::black_box(true) {
            panic!("inside the runtime");
        }
    })
    .map_err(ErrorInfo::from);
    let e = r.unwrap_err();
    assert_eq!(e.code, pr_result::PR_ERR_PANIC);
    assert!(e.message.to_str().unwrap().contains("inside the runtime"));
    assert_eq!(blocking::block_on(async { 5 }).unwrap(), 5);
}

fn sim_device() -> (*mut pr_sim, *mut pr_device) {
    let mut err: *mut pr_error = ptr::null_mut();
    let mut sim: *mut pr_sim = ptr::null_mut();
    assert_eq!(pr_sim_new(1, &mut sim, &mut err), pr_result::PR_OK);
    let mut lun = 0u16;
    assert_eq!(
        pr_sim_add_lun(sim, PR_SIM_SPC5, &mut lun, &mut err),
        pr_result::PR_OK
    );
    let mut init = 0u32;
    assert_eq!(
        pr_sim_add_initiator(sim, c"sas,5001405000000001".as_ptr(), &mut init, &mut err),
        pr_result::PR_OK
    );
    let mut path = 0u32;
    assert_eq!(
        pr_sim_add_path(sim, init, 1, lun, ptr::null(), &mut path, &mut err),
        pr_result::PR_OK
    );
    let mut dev: *mut pr_device = ptr::null_mut();
    assert_eq!(
        pr_device_open_sim(sim, path, &mut dev, &mut err),
        pr_result::PR_OK
    );
    assert_eq!(text(pr_device_name(dev)), "i0t1l0");
    (sim, dev)
}

fn register_and_count(dev: *mut pr_device, key: u64) -> usize {
    let mut err: *mut pr_error = ptr::null_mut();
    assert_eq!(
        pr_device_register_ignore(dev, key, 0, &mut err),
        pr_result::PR_OK
    );
    let mut keys: *mut pr_keys = ptr::null_mut();
    assert_eq!(
        pr_device_read_keys(dev, &mut keys, &mut err),
        pr_result::PR_OK
    );
    let n = pr_keys_count(keys);
    let mut k = 0u64;
    assert_eq!(pr_keys_get(keys, 0, &mut k, &mut err), pr_result::PR_OK);
    assert_eq!(k, key);
    pr_keys_free(keys);
    n
}

#[test]
fn library_exit_joins_the_thread_and_a_later_call_restarts_it() {
    let _g = serial();
    let (sim, dev) = sim_device();
    assert_eq!(register_and_count(dev, 0x11), 1);
    assert!(runtime::is_running());
    pr_library_exit();
    assert!(!runtime::is_running());
    // The runtime thread is gone (joined): no thread of that name remains. pthread_join
    // returns when the kernel clears the thread's id, which can be a moment before the
    // task leaves /proc/self/task: look again for up to 2 s before calling it a failure.
    let mut gone = false;
    for _ in 0..200 {
        if !thread_names().iter().any(|n| n == runtime::THREAD_NAME) {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        gone,
        "the runtime thread is still listed after pr_library_exit"
    );
    pr_library_exit();
    assert_eq!(register_and_count(dev, 0x12), 1);
    assert!(runtime::is_running());
    assert!(thread_names().iter().any(|n| n == runtime::THREAD_NAME));
    pr_device_free(dev);
    pr_sim_free(sim);
}

/// The names of this process's threads (Linux).
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
                .map(|s| s.trim().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn callers_that_run_tokio_themselves_are_only_blocked() {
    let _g = serial();
    let (sim, dev) = sim_device();
    let dev_addr = dev as usize;
    // Inside a current-thread runtime's block_on (a block_on of ours would panic here).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = rt.block_on(async move { register_and_count(dev_addr as *mut pr_device, 0x21) });
    assert_eq!(n, 1);
    // And on a worker of a multi-thread runtime.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let n = rt
        .block_on(async move {
            tokio::spawn(async move { register_and_count(dev_addr as *mut pr_device, 0x22) }).await
        })
        .unwrap();
    assert_eq!(n, 1);
    pr_device_free(dev);
    pr_sim_free(sim);
}

#[test]
fn errors_carry_sense_and_paths() {
    let _g = serial();
    let (sim, dev) = sim_device();
    let mut err: *mut pr_error = ptr::null_mut();
    // RESERVE from an unregistered nexus: RESERVATION CONFLICT.
    assert_eq!(
        pr_device_reserve(dev, 0x99, PR_TYPE_WRITE_EXCLUSIVE, &mut err),
        pr_result::PR_ERR_RESERVATION_CONFLICT
    );
    assert_eq!(pr_error_scsi_status(err), 0x18);
    assert_eq!(text(pr_error_path(err)), "i0t1l0");
    pr_error_free(err);
    // An injected NOT READY keeps its sense bytes.
    err = ptr::null_mut();
    assert_eq!(
        pr_sim_path_inject(sim, 0, PR_SIM_FAULT_NOT_READY, 0x04, 0x02, 1, &mut err),
        pr_result::PR_OK
    );
    let mut keys: *mut pr_keys = ptr::null_mut();
    assert_eq!(
        pr_device_read_keys(dev, &mut keys, &mut err),
        pr_result::PR_ERR_NOT_READY
    );
    assert!(keys.is_null());
    let mut len = 0usize;
    let sense = pr_error_sense(err, &mut len);
    assert!(!sense.is_null() && len >= 14);
    // SAFETY: the library returned `len` bytes at `sense`, owned by `err`, alive here.
    let bytes = unsafe { std::slice::from_raw_parts(sense, len) };
    assert_eq!(bytes[2] & 0x0f, 0x02);
    assert_eq!((pr_error_asc(err), pr_error_ascq(err)), (0x04, 0x02));
    pr_error_free(err);
    pr_device_free(dev);
    pr_sim_free(sim);
}

#[test]
fn bad_names_get_their_own_codes_and_are_named() {
    let _g = serial();
    let mut err: *mut pr_error = ptr::null_mut();
    let mut dev: *mut pr_device = ptr::null_mut();
    for (what, code) in [
        (c"pr-no-such-map-zz", pr_result::PR_ERR_NOT_FOUND),
        (c"/nonexistent/sdz", pr_result::PR_ERR_NOT_FOUND),
        (c"/dev/null", pr_result::PR_ERR_NOT_SCSI),
        (c"/tmp", pr_result::PR_ERR_NOT_SCSI),
        (c"", pr_result::PR_ERR_INVALID_ARGUMENT),
    ] {
        assert_eq!(pr_device_open(what.as_ptr(), 0, &mut dev, &mut err), code);
        let msg = text(pr_error_message(err));
        assert!(msg.contains(what.to_str().unwrap()), "{msg}");
        pr_error_free(err);
        err = ptr::null_mut();
        let mut lun: *mut pr_lun = ptr::null_mut();
        assert_eq!(pr_lun_open(what.as_ptr(), 0, &mut lun, &mut err), code);
        assert!(lun.is_null());
        pr_error_free(err);
        err = ptr::null_mut();
    }
    assert!(dev.is_null());
}

#[test]
fn a_cluster_gives_each_node_its_luns_and_path_ids() {
    let _g = serial();
    let mut err: *mut pr_error = ptr::null_mut();
    let mut sim: *mut pr_sim = ptr::null_mut();
    assert_eq!(
        pr_sim_cluster(2, 2, 3, PR_SIM_SPC5, &mut sim, &mut err),
        pr_result::PR_OK
    );
    let mut a: *mut pr_lun = ptr::null_mut();
    let mut b: *mut pr_lun = ptr::null_mut();
    assert_eq!(
        pr_sim_cluster_lun(sim, 0, 2, &mut a, &mut err),
        pr_result::PR_OK
    );
    assert_eq!(
        pr_sim_cluster_lun(sim, 1, 2, &mut b, &mut err),
        pr_result::PR_OK
    );
    assert_eq!(text(pr_lun_name(a)), "lun2");
    assert_eq!(pr_lun_path_count(a), 2);
    assert_eq!(pr_lun_register(a, 0, 0xa, 0, &mut err), pr_result::PR_OK);
    let mut keys: *mut pr_keys = ptr::null_mut();
    assert_eq!(pr_lun_read_keys(b, &mut keys, &mut err), pr_result::PR_OK);
    assert_eq!(
        pr_keys_count(keys),
        2,
        "node 1 sees node 0's two registrations"
    );
    pr_keys_free(keys);
    // Path ids: node 1's second path to LUN 2, usable as a device.
    let mut id = u32::MAX;
    assert_eq!(
        pr_sim_cluster_path(sim, 1, 2, 1, &mut id, &mut err),
        pr_result::PR_OK
    );
    let mut dev: *mut pr_device = ptr::null_mut();
    assert_eq!(
        pr_device_open_sim(sim, id, &mut dev, &mut err),
        pr_result::PR_OK
    );
    assert_eq!(text(pr_device_name(dev)), "n1p1l2");
    pr_device_free(dev);
    // Out of range, named.
    let invalid = |arg: &str, call: &mut dyn FnMut(*mut *mut pr_error) -> pr_result| {
        let mut err: *mut pr_error = ptr::null_mut();
        assert_eq!(call(&mut err), pr_result::PR_ERR_INVALID_ARGUMENT);
        assert!(text(pr_error_message(err)).contains(arg), "{arg}");
        pr_error_free(err);
    };
    let mut other: *mut pr_lun = ptr::null_mut();
    let mut other_sim: *mut pr_sim = ptr::null_mut();
    invalid("`node`", &mut |e| {
        pr_sim_cluster_lun(sim, 2, 0, &mut other, e)
    });
    invalid("`lun`", &mut |e| {
        pr_sim_cluster_lun(sim, 0, 3, &mut other, e)
    });
    invalid("`index`", &mut |e| {
        pr_sim_cluster_path(sim, 0, 0, 2, &mut id, e)
    });
    invalid("`nodes`", &mut |e| {
        pr_sim_cluster(0, 2, 1, PR_SIM_SPC5, &mut other_sim, e)
    });
    invalid("`luns`", &mut |e| {
        pr_sim_cluster(255, 255, 255, PR_SIM_LIO, &mut other_sim, e)
    });
    invalid("`personality`", &mut |e| {
        pr_sim_cluster(1, 1, 1, 7, &mut other_sim, e)
    });
    assert!(other.is_null() && other_sim.is_null());
    let mut plain: *mut pr_sim = ptr::null_mut();
    assert_eq!(pr_sim_new(1, &mut plain, &mut err), pr_result::PR_OK);
    assert_eq!(
        pr_sim_cluster_lun(plain, 0, 0, &mut a, &mut err),
        pr_result::PR_ERR_INVALID_ARGUMENT
    );
    assert!(text(pr_error_message(err)).contains("not a cluster"));
    pr_error_free(err);
    pr_sim_free(plain);
    pr_lun_free(a);
    pr_lun_free(b);
    pr_sim_free(sim);
}

static LINES: Mutex<Vec<(c_int, String)>> = Mutex::new(Vec::new());

extern "C" fn collect(level: c_int, message: *const c_char, user_data: *mut c_void) {
    assert_eq!(user_data as usize, 0x5eed);
    LINES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((level, text(message)));
}

fn lines() -> Vec<(c_int, String)> {
    LINES.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

#[test]
fn the_log_callback_gets_events_from_library_threads_with_their_spans() {
    let _g = serial();
    let mut err: *mut pr_error = ptr::null_mut();
    let ud = 0x5eed as *mut c_void;
    assert_eq!(
        pr_set_log_callback(Some(collect), ud, 9, &mut err),
        pr_result::PR_ERR_INVALID_ARGUMENT
    );
    pr_error_free(err);
    err = ptr::null_mut();
    assert_eq!(
        pr_set_log_callback(Some(collect), ud, PR_LOG_DEBUG, &mut err),
        pr_result::PR_OK
    );
    // An event shaped as pr-multipath's per-command events, on the runtime thread, inside
    // a span; a trace event above the level is not delivered.
    blocking::block_on(async {
        let span = tracing::info_span!("lun_op", lun = "lun0");
        let _e = span.enter();
        tracing::debug!(target: "pr_multipath::exec", path = "n0p0l0", action = %"READ KEYS", "command");
        tracing::trace!(target: "pr_multipath::exec", "not delivered");
    })
    .unwrap();
    let got = lines();
    assert!(
        got.iter().any(|(l, m)| *l == PR_LOG_DEBUG
            && m == "lun_op{lun=lun0}: pr_multipath::exec: command path=n0p0l0 action=READ KEYS"),
        "{got:?}"
    );
    assert!(!got.iter().any(|(_, m)| m.contains("not delivered")));
    // A real call on the simulator: the action and the path are named.
    let (sim, dev) = sim_device();
    assert_eq!(register_and_count(dev, 0x31), 1);
    let got = lines();
    assert!(
        got.iter()
            .any(|(_, m)| m.contains("READ KEYS") && m.contains("i0t1l0")),
        "{got:?}"
    );
    // Off: nothing more.
    assert_eq!(
        pr_set_log_callback(None, ptr::null_mut(), PR_LOG_OFF, &mut err),
        pr_result::PR_OK
    );
    let n = lines().len();
    assert_eq!(register_and_count(dev, 0x32), 1);
    tracing::error!("after the log was turned off");
    assert_eq!(lines().len(), n);
    pr_device_free(dev);
    pr_sim_free(sim);
}
