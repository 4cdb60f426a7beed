//! Prints the cross-face scenario's dump (`pr_tests::cross_face`) through the async
//! (`cross_face async`) or the blocking (`cross_face blocking`) Rust front door; used by
//! `tests/cross-face.sh`.

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "async".into());
    let dump = match mode.as_str() {
        "async" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| {
                rt.block_on(pr_tests::cross_face::run_async())
                    .map_err(|e| e.to_string())
            }),
        "blocking" => pr_tests::cross_face::run_blocking().map_err(|e| e.to_string()),
        other => Err(format!("unknown mode {other:?}: async or blocking")),
    };
    match dump {
        Ok(d) => print!("{d}"),
        Err(e) => {
            eprintln!("cross_face: {e}");
            std::process::exit(1);
        }
    }
}
