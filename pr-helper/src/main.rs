//! `pr-helper`: the daemon (see the library's documentation and the crate's README).

use std::process::ExitCode;

use pr_helper::cli::{self, Command};

fn main() -> ExitCode {
    let mut args = std::env::args();
    let program = args.next().unwrap_or_else(|| "pr-helper".to_owned());
    match cli::parse(args) {
        Ok(Command::Help) => {
            print!("{}", cli::usage(&program));
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!(
                "{program} {} (pr-helper, compatible with qemu-pr-helper)",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
        Ok(Command::Run(options)) => match pr_helper::daemon::run(options) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{program}: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("{program}: {e}");
            eprintln!("Try `{program} --help' for more information.");
            ExitCode::FAILURE
        }
    }
}
