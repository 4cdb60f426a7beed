//! Two cluster nodes on pr-sim: register, reserve, lose a path, fence, locked out.
//! `cargo run -p pr-examples --bin cluster-demo`; see `pr_examples::cluster_demo`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cluster-demo: cannot start a tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut print = |line: &str| println!("{line}");
    match runtime.block_on(pr_examples::cluster_demo::run(&mut print)) {
        Ok(demo) => match demo.verify() {
            Ok(()) => {
                println!();
                println!("Done: node1 is fenced off every LUN, node2 holds the reservations.");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cluster-demo: unexpected end state: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("cluster-demo: {e}");
            ExitCode::FAILURE
        }
    }
}
