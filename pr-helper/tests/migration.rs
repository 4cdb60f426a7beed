//! Migration without the VMM's help, on the simulator: a guest on the source host
//! registers and reserves through the source's daemon (tracking on); the state is exported
//! through the source's control socket and handed over on the destination's, whose
//! REGISTER and self-PREEMPT take the registration and the reservation; the source's
//! writes then conflict and the destination's succeed; failback returns them. Over one
//! path per host and over a two-path map on the destination.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{Running, SimLuns};
use pr_core::transport::{Cdb, Request, Transport};
use pr_helper::BlockingClient;
use pr_helper::client::{basic_params, pr_in_cdb, pr_out_cdb};
use pr_helper::control::Request as Control;
use pr_helper::control::{self, Response};
use pr_helper::tracker::GuestState;
use pr_multipath::{AnyPath, Lun};
use pr_sim::{LunConfig, Sim, SimPath, lab_loop_nexuses};
use tokio_util::sync::CancellationToken;

struct Host {
    run: Running,
    control: PathBuf,
    _dir: tempfile::TempDir,
    paths: Vec<SimPath>,
}

fn host(paths: Vec<SimPath>, name: &str) -> Host {
    let lun = Lun::simulated(name, paths.clone());
    let server = pr_helper::Server::new(Arc::new(SimLuns(Arc::new(lun)))).with_tracking();
    let run = Running::start(server.clone());
    let dir = tempfile::tempdir().unwrap();
    let control = dir.path().join("control.sock");
    let listener = control::bind(&control).unwrap();
    listener.set_nonblocking(true).unwrap();
    let token: CancellationToken = run.shutdown.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::UnixListener::from_std(listener).unwrap();
            server.serve_control(l, token).await;
        });
    });
    Host {
        run,
        control,
        _dir: dir,
        paths,
    }
}

fn ask(path: &Path, r: &Control) -> Response {
    control::request(path, r).unwrap()
}

/// A WRITE(10) of one block through `path`: its SCSI status.
fn write_status(path: &SimPath) -> u8 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cdb = Cdb::new(&[0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0]).unwrap();
    // The first command after a PREEMPT gets the unit attention: send again.
    let mut status = 0;
    for _ in 0..3 {
        let r = rt
            .block_on(AnyPath::Sim(path.clone()).execute(Request::data_out(cdb, vec![0; 512])))
            .unwrap();
        status = r.completion.status.0;
        if status != 0x02 {
            break;
        }
    }
    status
}

fn call(c: &mut BlockingClient, cdb: [u8; 16], data: &[u8]) -> pr_helper::Reply {
    let dev = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .unwrap();
    let mut r = c.call(&dev, &cdb, data).unwrap();
    for _ in 0..3 {
        if r.sense_key_asc_ascq().map(|s| s.0) != Some(6) {
            break;
        }
        r = c.call(&dev, &cdb, data).unwrap();
    }
    r
}

#[test]
fn a_reservation_follows_the_guest_and_fails_back() {
    for destination_paths in [1usize, 2] {
        let (_sim, p) = Sim::single_lun(LunConfig::lio(), &lab_loop_nexuses(1 + destination_paths));
        let source = host(p[..1].to_vec(), "src");
        let dest = host(p[1..].to_vec(), "dst");
        let mut guest = BlockingClient::connect(&source.run.socket).unwrap();
        let key = 0x006b_6579_u64;
        assert_eq!(
            call(&mut guest, pr_out_cdb(6, 0, 24), &basic_params(0, key, 0)).status(),
            0
        );
        assert_eq!(
            call(&mut guest, pr_out_cdb(1, 5, 24), &basic_params(key, 0, 0)).status(),
            0
        );
        assert_eq!(write_status(&source.paths[0]), 0);
        assert_eq!(write_status(&dest.paths[0]), 0x18, "not registered yet");

        // Export on the source, hand over on the destination.
        let exported = ask(&source.control, &Control::Export);
        assert!(exported.ok);
        let entries = exported.entries.unwrap();
        assert_eq!(entries.len(), 1);
        let state: GuestState = entries[0].state;
        assert_eq!((state.key.0, state.reservation_type), (key, 5));
        let json = serde_json::to_string(&Control::Handover {
            device: "/dev/null".into(),
            state,
        })
        .unwrap();
        assert!(json.contains("\"op\":\"handover\""), "{json}");
        let r = ask(
            &dest.control,
            &Control::Handover {
                device: "/dev/null".into(),
                state,
            },
        );
        assert!(r.ok, "{destination_paths} paths: {r:?}");
        assert_eq!(r.steps.as_ref().unwrap().len(), 3);
        for path in &dest.paths {
            assert_eq!(write_status(path), 0, "destination writes");
        }
        assert_eq!(write_status(&source.paths[0]), 0x18, "source fenced");
        let mut d = BlockingClient::connect(&dest.run.socket).unwrap();
        let rr = call(&mut d, pr_in_cdb(1, 24), &[]);
        assert_eq!((&rr.data[8..16], rr.data[21]), (&key.to_be_bytes()[..], 5));
        let keys = call(&mut d, pr_in_cdb(0, 8192), &[]);
        let n = u32::from_be_bytes(keys.data[4..8].try_into().unwrap()) / 8;
        assert_eq!(
            n as usize, destination_paths,
            "only the destination's paths are registered"
        );

        // Import on the destination, so its tracker knows the guest from now on.
        let r = ask(
            &dest.control,
            &Control::Import {
                entries: entries.clone(),
            },
        );
        assert!(r.ok);
        assert_eq!(
            ask(&dest.control, &Control::Export).entries.unwrap(),
            entries
        );

        // Failback: the source takes it all back.
        let r = ask(
            &source.control,
            &Control::Failback {
                device: "/dev/null".into(),
                state,
            },
        );
        assert!(r.ok, "{r:?}");
        assert_eq!(write_status(&source.paths[0]), 0, "source writes again");
        assert_eq!(write_status(&dest.paths[0]), 0x18, "destination fenced");

        // Forget; bad requests are answered, not fatal.
        let r = ask(
            &source.control,
            &Control::Forget {
                lun: entries[0].lun.clone(),
                client: entries[0].client.clone(),
            },
        );
        assert_eq!(r.state, Some(state));
        assert!(
            ask(&source.control, &Control::Export)
                .entries
                .unwrap()
                .is_empty()
        );
        let bad = {
            use std::io::{BufRead, Write};
            let mut s = std::os::unix::net::UnixStream::connect(&source.control).unwrap();
            s.write_all(b"{\"op\":\"nope\"}\n").unwrap();
            let mut line = String::new();
            std::io::BufReader::new(s).read_line(&mut line).unwrap();
            serde_json::from_str::<Response>(&line).unwrap()
        };
        assert!(!bad.ok && bad.error.unwrap().contains("bad request"));
        let r = ask(
            &source.control,
            &Control::Handover {
                device: "/nonexistent/dev".into(),
                state,
            },
        );
        assert!(!r.ok);
        source.run.stop();
        dest.run.stop();
    }
}
