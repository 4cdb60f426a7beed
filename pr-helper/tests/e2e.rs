//! End to end over a real Unix socket: our client against our server, with the
//! descriptor of /dev/null or a file and a simulated LUN behind it (test-only source), and
//! the daemon's real source ([`DeviceLuns`]) on descriptors that are not SCSI devices.

mod common;

use std::fs::File;
use std::sync::Arc;

use common::{Running, SimLuns, two_hosts};
use pr_helper::client::{basic_params, pr_in_cdb, pr_out_cdb};
use pr_helper::{BlockingClient, Client, DeviceLuns, DeviceOptions, Server};
use pr_sim::LunConfig;

fn dev_null_rw() -> File {
    File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .unwrap()
}

fn dev_null_ro() -> File {
    File::open("/dev/null").unwrap()
}

#[test]
fn every_action_through_the_socket_on_one_path_and_on_a_map() {
    for paths in [1usize, 2] {
        let (_sim, a, b) = two_hosts(paths, LunConfig::lio());
        let run = Running::start(Server::new(Arc::new(SimLuns(Arc::new(a)))));
        let other = Running::start(Server::new(Arc::new(SimLuns(Arc::new(b)))));
        let dev = dev_null_rw();
        let mut c = BlockingClient::connect(&run.socket).unwrap();
        let mut o = BlockingClient::connect(&other.socket).unwrap();

        // REGISTER AND IGNORE, RESERVE (type 5).
        let r = c
            .call(&dev, &pr_out_cdb(0x06, 0, 24), &basic_params(0, 0xaa, 0))
            .unwrap();
        assert_eq!((r.status(), r.data.len()), (0, 0), "{paths} paths");
        let r = c
            .call(&dev, &pr_out_cdb(0x01, 0x05, 24), &basic_params(0xaa, 0, 0))
            .unwrap();
        assert_eq!(r.status(), 0);
        // READ KEYS: one key per path; a short allocation length cuts `sz`.
        let r = c.call(&dev, &pr_in_cdb(0x00, 8192), &[]).unwrap();
        assert_eq!(r.status(), 0);
        assert_eq!(r.data.len(), 8 + 8 * paths, "{paths} paths");
        let r = c.call(&dev, &pr_in_cdb(0x00, 10), &[]).unwrap();
        assert_eq!(r.data.len(), 10);
        // READ RESERVATION, REPORT CAPABILITIES (LIO: SIP_C and ATP_C set, not masked).
        let r = c.call(&dev, &pr_in_cdb(0x01, 24), &[]).unwrap();
        assert_eq!(
            (&r.data[8..16], r.data[21]),
            (&0xaau64.to_be_bytes()[..], 0x05)
        );
        let r = c.call(&dev, &pr_in_cdb(0x02, 8), &[]).unwrap();
        assert_eq!(r.data.len(), 8);
        assert_eq!(r.data[2] & 0x0c, 0x0c);
        // READ FULL STATUS, through a map too (qemu-pr-helper refuses it on maps).
        let r = c.call(&dev, &pr_in_cdb(0x03, 8192), &[]).unwrap();
        assert_eq!(r.status(), 0);
        let descriptors = u32::from_be_bytes(r.data[4..8].try_into().unwrap());
        assert!(
            descriptors >= 24 * paths as u32,
            "{paths} paths: {descriptors}"
        );
        // Another host: RESERVE conflicts (status 18h, zero sense).
        o.call(&dev, &pr_out_cdb(0x06, 0, 24), &basic_params(0, 0xbb, 0))
            .unwrap();
        let r = o
            .call(&dev, &pr_out_cdb(0x01, 0x05, 24), &basic_params(0xbb, 0, 0))
            .unwrap();
        assert_eq!(r.status(), 0x18);
        assert_eq!(r.sense, [0u8; 96]);
        // It preempts us; our next command sees the unit attention on one path.
        let r = o
            .call(
                &dev,
                &pr_out_cdb(0x04, 0x05, 24),
                &basic_params(0xbb, 0xaa, 0),
            )
            .unwrap();
        assert_eq!(r.status(), 0);
        // RELEASE and CLEAR are answered; a bad type is ILLEGAL REQUEST with sense.
        let r = o
            .call(&dev, &pr_out_cdb(0x01, 0x0f, 24), &basic_params(0xbb, 0, 0))
            .unwrap();
        assert_eq!(r.status(), 0x02);
        assert_eq!(r.sense_key_asc_ascq().map(|s| s.0), Some(5));
        let r = o
            .call(&dev, &pr_out_cdb(0x03, 0, 24), &basic_params(0xbb, 0, 0))
            .unwrap();
        assert_eq!(r.status(), 0);
        // PR OUT on a read-only descriptor: INVALID COMMAND OPERATION CODE, connection
        // kept.
        let r = c
            .call(
                &dev_null_ro(),
                &pr_out_cdb(0x06, 0, 24),
                &basic_params(0, 1, 0),
            )
            .unwrap();
        assert_eq!(r.sense_key_asc_ascq(), Some((5, 0x20, 0)));
        // PR IN on a read-only descriptor works.
        let r = c.call(&dev_null_ro(), &pr_in_cdb(0x00, 8), &[]).unwrap();
        assert!(r.status() == 0 || r.sense_key_asc_ascq().map(|s| s.0) == Some(6));
        run.stop();
        other.stop();
    }
}

#[test]
fn the_async_client_works_and_tracking_masks_and_follows() {
    let (_sim, a, b) = two_hosts(2, LunConfig::lio());
    let run = Running::start(Server::new(Arc::new(SimLuns(Arc::new(a)))).with_tracking());
    let other = Running::start(Server::new(Arc::new(SimLuns(Arc::new(b)))));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dev = dev_null_rw();
        let mut c = Client::connect(&run.socket).await.unwrap();
        let r = c
            .call(&dev, &pr_out_cdb(0x06, 0, 24), &basic_params(0, 0xaa, 0))
            .await
            .unwrap();
        assert_eq!(r.status(), 0);
        c.call(&dev, &pr_out_cdb(0x01, 0x05, 24), &basic_params(0xaa, 0, 0))
            .await
            .unwrap();
        let r = c.call(&dev, &pr_in_cdb(0x02, 8), &[]).await.unwrap();
        assert_eq!(r.data[2] & 0x0c, 0, "SIP_C and ATP_C masked while tracking");
        let t = run.server.tracker().unwrap();
        let entries = t.entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (entries[0].state.key.0, entries[0].state.reservation_type),
            (0xaa, 5)
        );
        // A failed command changes nothing: the holder's RESERVE of another type is a
        // conflict.
        let r = c
            .call(&dev, &pr_out_cdb(0x01, 0x03, 24), &basic_params(0xaa, 0, 0))
            .await
            .unwrap();
        assert_eq!(r.status(), 0x18);
        assert_eq!(
            run.server.tracker().unwrap().entries()[0]
                .state
                .reservation_type,
            5
        );
        // A PREEMPT of a key that holds nothing leaves our reservation (type 5): the
        // tracker reads the reservation and keeps it.
        let mut o = BlockingClient::connect(&other.socket).unwrap();
        o.call(&dev, &pr_out_cdb(0x06, 0, 24), &basic_params(0, 0xbb, 0))
            .unwrap();
        let r = c
            .call(
                &dev,
                &pr_out_cdb(0x04, 0x03, 24),
                &basic_params(0xaa, 0xbb, 0),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), 0);
        let s = run.server.tracker().unwrap().entries()[0].state;
        assert_eq!((s.key.0, s.reservation_type), (0xaa, 5));
        // The other host (not through our daemon) preempts us with type 3; we register
        // again and preempt it back with type 6: the reservation read says ours, type 6.
        // (one path behind that daemon: commands pass through once, so the unit
        // attention of our PREEMPT comes back first and the REGISTER is sent again)
        let mut r = o.call(&dev, &pr_out_cdb(0x06, 0, 24), &basic_params(0, 0xbb, 0));
        if r.as_ref().unwrap().sense_key_asc_ascq().map(|s| s.0) == Some(6) {
            r = o.call(&dev, &pr_out_cdb(0x06, 0, 24), &basic_params(0, 0xbb, 0));
        }
        assert_eq!(r.unwrap().status(), 0);
        let r = o
            .call(
                &dev,
                &pr_out_cdb(0x04, 0x03, 24),
                &basic_params(0xbb, 0xaa, 0),
            )
            .unwrap();
        assert_eq!(r.status(), 0);
        c.call(&dev, &pr_out_cdb(0x06, 0, 24), &basic_params(0, 0xaa, 0))
            .await
            .unwrap();
        let r = c
            .call(
                &dev,
                &pr_out_cdb(0x04, 0x06, 24),
                &basic_params(0xaa, 0xbb, 0),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), 0, "{:?}", r.sense_key_asc_ascq());
        let s = run.server.tracker().unwrap().entries()[0].state;
        assert_eq!((s.key.0, s.reservation_type), (0xaa, 6));
        // A RELEASE.
        c.call(&dev, &pr_out_cdb(0x02, 0x06, 24), &basic_params(0xaa, 0, 0))
            .await
            .unwrap();
        let s = run.server.tracker().unwrap().entries()[0].state;
        assert_eq!(s.reservation_type, 0);
    });
    run.stop();
    other.stop();
}

#[test]
fn the_real_source_answers_non_scsi_descriptors_as_qemu_pr_helper() {
    let run = Running::start(Server::new(Arc::new(DeviceLuns::new(
        DeviceOptions::default(),
    ))));
    let mut c = BlockingClient::connect(&run.socket).unwrap();
    let file = tempfile::tempfile().unwrap();
    for dev in [dev_null_rw(), file] {
        let r = c.call(&dev, &pr_in_cdb(0x00, 8192), &[]).unwrap();
        assert_eq!(r.status(), 0x02);
        assert_eq!(r.sense_key_asc_ascq(), Some((0x0b, 0x00, 0x06)));
        assert!(r.data.is_empty());
        let r = c
            .call(&dev, &pr_out_cdb(0x06, 0, 24), &basic_params(0, 1, 0))
            .unwrap();
        assert_eq!(r.sense_key_asc_ascq(), Some((0x0b, 0x00, 0x06)));
    }
    run.stop();
}
