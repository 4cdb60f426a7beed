//! Decodes real PERSISTENT RESERVE IN responses and sense data captured from the Linux LIO
//! target (see `tests/fixtures/lio/README.md`) and prints them.
//!
//! ```text
//! cargo run -p pr-core --example decode_lio              # every capture
//! cargo run -p pr-core --example decode_lio -- 3reg-resv5  # captures whose name contains this
//! ```

use std::path::Path;

use pr_core::outcome::{Completion, SenseBuf};
use pr_core::prin::Response;
use pr_core::sense::ScsiStatus;
use pr_core::types::PrInAction;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = std::env::args().nth(1).unwrap_or_default();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lio");
    let mut names: Vec<String> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".bin") && n.contains(&filter))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(format!("no capture in {} matches {filter:?}", dir.display()).into());
    }
    for name in &names {
        let bytes = std::fs::read(dir.join(name))?;
        let stem = name.trim_end_matches(".bin");
        let action = [
            ("read_keys", PrInAction::ReadKeys),
            ("read_reservation", PrInAction::ReadReservation),
            ("report_capabilities", PrInAction::ReportCapabilities),
            ("read_full_status", PrInAction::ReadFullStatus),
        ]
        .into_iter()
        .find(|(suffix, _)| stem.ends_with(suffix));
        println!("== {stem} ({} bytes)", bytes.len());
        match action {
            Some((_, action)) => match Response::decode(action, &bytes) {
                Ok(r) => println!("{action}: {r}"),
                Err(e) => println!("{action}: cannot decode: {e}"),
            },
            None if stem.ends_with(".sense") => {
                let c = Completion {
                    status: ScsiStatus::CHECK_CONDITION,
                    sense: SenseBuf::new(&bytes),
                    host_status: 0,
                    driver_status: 0,
                    residual: 0,
                    duration: Default::default(),
                };
                match c.check() {
                    Err(e) => println!("CHECK CONDITION: {e}"),
                    Ok(()) => println!("CHECK CONDITION that counts as success"),
                }
            }
            None => println!("(not a PR IN response or sense capture)"),
        }
    }
    println!("{} captures decoded", names.len());
    Ok(())
}
