//! Two nodes, each with its own two paths to three shared LUNs: both register on every
//! path, node 0 reserves Write Exclusive, Registrants Only on every LUN, and each LUN's state
//! is printed from READ FULL STATUS decoded by pr-core.
//!
//! `cargo run -p pr-sim --example two_nodes`

use pr_core::cdb::PrInCdb;
use pr_core::prin::FullStatus;
use pr_core::prout::PrOut;
use pr_core::transport::{Cdb, Request, Transport};
use pr_core::types::{PrInAction, ReservationKey, ReservationType};
use pr_sim::{ClusterSpec, Sim, SimPath};

async fn prout(path: &SimPath, req: PrOut<'_>) -> Result<(), Box<dyn std::error::Error>> {
    let mut cdb = [0u8; 10];
    req.encode_cdb(&mut cdb)?;
    let mut params = vec![0u8; req.param_len()?];
    req.encode_params(&mut params)?;
    let r = path
        .execute(Request::data_out(Cdb::from(cdb), params))
        .await?;
    r.completion.check()?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = Sim::cluster(&ClusterSpec::default());
    let keys = [0xaaaa_u64, 0xbbbb];
    for (node, key) in cluster.nodes.iter().zip(keys) {
        for lun_paths in &node.paths {
            for path in lun_paths {
                prout(
                    path,
                    PrOut::register(ReservationKey(0), ReservationKey(key)),
                )
                .await?;
            }
        }
    }
    for lun_paths in &cluster.nodes[0].paths {
        prout(
            &lun_paths[0],
            PrOut::reserve(
                ReservationKey(keys[0]),
                ReservationType::WriteExclusiveRegistrantsOnly,
            ),
        )
        .await?;
    }
    for (l, lun_paths) in cluster.nodes[1].paths.iter().enumerate() {
        let cdb = Cdb::from(PrInCdb::new(PrInAction::ReadFullStatus, 8192).to_bytes());
        let r = lun_paths[1].execute(Request::data_in(cdb, 8192)).await?;
        r.completion.check()?;
        println!(
            "LUN {l} via {}:\n{}",
            lun_paths[1].name(),
            FullStatus::decode(&r.buf)?
        );
    }
    Ok(())
}
