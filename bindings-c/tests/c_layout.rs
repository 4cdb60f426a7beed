//! Compiles the C layout checks in `tests/c/` with the system C compiler.
//!
//! `layout.c` checks our `include/mpath_persist.h`, `usage.c` that its documented usage
//! compiles with nothing but it (no implicit declarations); `system_layout.c` runs the
//! same `_Static_assert`s against the installed `/usr/include/mpath_persist.h`
//! (Debian: package `multipath-tools` on Debian 12), proving that our header,
//! and through the equal numbers in `src/compat/abi.rs` our Rust mirrors,
//! match the real ABI.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SYSTEM_HEADER: &str = "/usr/include/mpath_persist.h";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The C compiler: `$CC`, else `cc`, else `gcc`.
fn c_compiler() -> String {
    let mut candidates = Vec::new();
    if let Ok(cc) = std::env::var("CC") {
        if !cc.is_empty() {
            candidates.push(cc);
        }
    }
    candidates.push("cc".to_owned());
    candidates.push("gcc".to_owned());
    for cc in &candidates {
        if Command::new(cc)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return cc.clone();
        }
    }
    panic!(
        "no C compiler found (tried {candidates:?}): install gcc (or set CC) to run the C \
         layout checks of bindings-c"
    );
}

fn compile(args: &[&str], source: &Path) -> Output {
    let cc = c_compiler();
    Command::new(&cc)
        .current_dir(crate_dir())
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"])
        .args(args)
        .arg(source)
        .output()
        .unwrap_or_else(|e| panic!("failed to run C compiler {cc:?}: {e}"))
}

fn assert_compiles(args: &[&str], source: &Path) {
    let out = compile(args, source);
    assert!(
        out.status.success(),
        "C layout check {} failed:\n{}{}",
        source.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn static_asserts_are_enforced_by_the_compiler() {
    // Guard against a compiler/flag combination that would silently skip the checks.
    let dir = std::env::temp_dir().join(format!("bindings-c-selftest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.c");
    std::fs::write(&file, "_Static_assert(sizeof(int) == 3, \"must fail\");\n").unwrap();
    let out = compile(&[], &file);
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        !out.status.success(),
        "a false _Static_assert compiled: checks would be void"
    );
}

#[test]
fn our_header_matches_the_documented_layout() {
    assert_compiles(&["-I", "include"], Path::new("tests/c/layout.c"));
}

#[test]
fn the_documented_usage_compiles_with_our_header_alone() {
    // mpath_alloc_prin_response is declared: no implicit declaration (which would
    // truncate the returned pointer to an int).
    assert_compiles(
        &["-I", "include", "-Werror=implicit-function-declaration"],
        Path::new("tests/c/usage.c"),
    );
}

#[test]
fn system_header_matches_the_documented_layout() {
    if !Path::new(SYSTEM_HEADER).exists() {
        // CI (scripts/test-all.sh) installs the header and sets this: there, a missing
        // header is a failure, not a skip.
        assert!(
            std::env::var_os("PR_REQUIRE_SYSTEM_HEADERS").is_none(),
            "{SYSTEM_HEADER} is missing but PR_REQUIRE_SYSTEM_HEADERS is set \
             (Debian 12: install package multipath-tools)"
        );
        println!(
            "SKIPPED: {SYSTEM_HEADER} is not installed, so our mirror is NOT checked against \
             the system libmpathpersist header (Debian 12: install package multipath-tools)"
        );
        return;
    }
    // No `-I include`: <mpath_persist.h> must resolve to the system header
    // (system_layout.c errors out if it gets ours).
    assert_compiles(&[], Path::new("tests/c/system_layout.c"));
    println!("checked against {SYSTEM_HEADER}");
}
