//! `TerminalSignalsIgnored::spawn`: the holder ignores SIGINT and SIGQUIT from before its
//! child exists (a child that signals its parent at once cannot kill it), and the child
//! gets the dispositions from before (it dies of SIGINT as any command would). One test:
//! the dispositions are process-wide.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use pr_lock::TerminalSignalsIgnored;

#[test]
fn the_holder_ignores_terminal_signals_from_the_spawn_and_the_child_does_not() {
    // The child signals this process at once, many times over: with ignoring set up after
    // the spawn, one of these rounds would kill the test binary.
    for _ in 0..20 {
        let (mut child, guard) = TerminalSignalsIgnored::spawn(
            Command::new("sh").args(["-c", "kill -INT $PPID; kill -QUIT $PPID; exit 3"]),
        )
        .expect("spawn sh");
        assert_eq!(child.wait().unwrap().code(), Some(3));
        drop(guard);
    }
    // The child has the default dispositions back: SIGINT to itself ends it.
    let (mut child, _guard) =
        TerminalSignalsIgnored::spawn(Command::new("sh").args(["-c", "kill -INT $$; exit 0"]))
            .expect("spawn sh");
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGINT));
    // A command that cannot be spawned: an error, and the guard gone with it.
    let e = TerminalSignalsIgnored::spawn(&mut Command::new("/nonexistent/command")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
}
