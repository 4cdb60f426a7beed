//! `prsdk`: see the `pr_cli` crate documentation.

fn main() {
    // Arguments that are not UTF-8 are taken lossily rather than panicking.
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let stdin = std::io::stdin();
    let code = pr_cli::main_with(
        &args,
        &mut std::io::stdout().lock(),
        // Not locked for the whole run: `-v` logs from the runtime thread too.
        &mut std::io::stderr(),
        &mut stdin.lock(),
    );
    std::process::exit(code);
}
