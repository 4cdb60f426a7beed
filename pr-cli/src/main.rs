//! `prsdk`: see the `pr_cli` crate documentation.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let stdin = std::io::stdin();
    let code = pr_cli::main_with(
        &args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
        &mut stdin.lock(),
    );
    std::process::exit(code);
}
