//! Hostile clients against the server on a real Unix socket: each is refused (the
//! connection closes without a reply, as qemu-pr-helper closes it) or survived, the server
//! does not crash, leaks no descriptor (counted in /proc/self/fd, the server runs in this
//! process), and other clients are unaffected. One test function, so that no other test
//! of this binary opens descriptors while they are counted.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Running, SimLuns, fd_count, fd_list, settle_fds, two_hosts};
use pr_helper::client::{basic_params, pr_in_cdb, pr_out_cdb};
use pr_helper::wire::{RESPONSE_HEADER_SIZE, ReplyHeader};
use pr_helper::{BlockingClient, Client, Server};
use pr_sim::{Latency, LunConfig};

fn dev_rw() -> File {
    File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .unwrap()
}

/// A raw connection that has done the handshake.
fn raw(socket: &std::path::Path) -> BlockingClient {
    let c = BlockingClient::connect(socket).unwrap();
    c.stream()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    c
}

/// The server closed the connection without a reply.
fn assert_closed(mut c: BlockingClient, what: &str) {
    let mut b = [0u8; 1];
    match c.stream_mut().read(&mut b) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("{what}: expected the connection closed, got {other:?}"),
    }
}

fn works(socket: &std::path::Path, what: &str) {
    let mut c = BlockingClient::connect(socket).unwrap();
    let r = c.call(&dev_rw(), &pr_in_cdb(0x00, 8192), &[]).unwrap();
    assert!(
        r.status() == 0 || r.sense_key_asc_ascq().map(|s| s.0) == Some(6),
        "{what}: {r:?}"
    );
}

#[test]
fn hostile_clients_are_refused_or_survived_without_leaks() {
    let (sim, a, _b) = two_hosts(1, LunConfig::lio());
    let _ = sim;
    let path = a.paths()[0].name().to_owned();
    let lun = Arc::new(a);
    let run = Running::start(Server::new(Arc::new(SimLuns(Arc::clone(&lun)))));
    let socket = run.socket.clone();
    works(&socket, "warm-up");
    let dev = dev_rw();
    let fd = dev.as_fd();
    // The warm-up connection's server side closes right after its reply.
    std::thread::sleep(Duration::from_millis(300));
    let before = fd_count();
    let before_list = fd_list();

    // Feature word other than 0.
    let mut s = UnixStream::connect(&socket).unwrap();
    let mut w = [0u8; 4];
    s.read_exact(&mut w).unwrap();
    assert_eq!(w, [0; 4]);
    s.write_all(&[0, 0, 0, 1]).unwrap();
    assert_eq!(s.read(&mut w).unwrap(), 0, "features 1");
    drop(s);

    // No descriptor.
    let mut c = raw(&socket);
    c.send_raw(&pr_in_cdb(0, 8), &[]).unwrap();
    assert_closed(c, "no fd");
    // Two descriptors.
    let mut c = raw(&socket);
    c.send_raw(&pr_in_cdb(0, 8), &[fd, fd]).unwrap();
    assert_closed(c, "two fds");
    // Two descriptors in two pieces of one CDB.
    let mut c = raw(&socket);
    c.send_raw(&pr_in_cdb(0, 8)[..4], &[fd]).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    c.send_raw(&pr_in_cdb(0, 8)[4..], &[fd]).unwrap();
    assert_closed(c, "two fds, two pieces");
    // A CDB that is not PR IN/OUT.
    let mut c = raw(&socket);
    let mut inquiry = [0u8; 16];
    inquiry[0] = 0x12;
    inquiry[4] = 36;
    c.send_raw(&inquiry, &[fd]).unwrap();
    assert_closed(c, "INQUIRY");
    // Oversized lengths.
    for cdb in [pr_in_cdb(0, 8193), pr_out_cdb(0, 0, 0xffff)] {
        let mut c = raw(&socket);
        c.send_raw(&cdb, &[fd]).unwrap();
        assert_closed(c, "oversized");
    }
    // A descriptor that rides with the PR OUT data.
    let mut c = raw(&socket);
    c.send_raw(&pr_out_cdb(6, 0, 24), &[fd]).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    c.send_raw(&basic_params(0, 1, 0), &[fd]).unwrap();
    assert_closed(c, "fd with the data");
    // A read-only descriptor with PR OUT: refused, the connection goes on.
    let mut c = raw(&socket);
    let r = c
        .call(
            &File::open("/dev/null").unwrap(),
            &pr_out_cdb(6, 0, 24),
            &basic_params(0, 1, 0),
        )
        .unwrap();
    assert_eq!(r.sense_key_asc_ascq(), Some((5, 0x20, 0)));
    let r = c.call(&dev, &pr_in_cdb(0x02, 8), &[]).unwrap();
    assert_eq!(r.data.len(), 8);
    // Pipelined requests are answered in order.
    let mut both = pr_in_cdb(0x02, 8).to_vec();
    c.send_raw(&both, &[fd]).unwrap();
    both = pr_in_cdb(0x00, 12).to_vec();
    c.send_raw(&both, &[fd]).unwrap();
    for want in [8usize, 12] {
        let mut h = [0u8; RESPONSE_HEADER_SIZE];
        c.stream_mut().read_exact(&mut h).unwrap();
        let h = ReplyHeader::decode(&h).unwrap();
        let mut d = vec![0u8; h.size];
        c.stream_mut().read_exact(&mut d).unwrap();
        assert!(h.size <= want, "pipelined: {} > {want}", h.size);
    }
    drop(c);
    // A truncated frame, then the client closes.
    let mut c = raw(&socket);
    c.send_raw(&pr_out_cdb(6, 0, 24)[..10], &[fd]).unwrap();
    drop(c);
    let mut c = raw(&socket);
    c.send_raw(&pr_out_cdb(6, 0, 24), &[fd]).unwrap();
    c.send_raw(&basic_params(0, 1, 0)[..5], &[]).unwrap();
    drop(c);
    // A client that stops mid-frame and stays: others are served meanwhile.
    let mut stalled = raw(&socket);
    stalled.send_raw(&pr_in_cdb(0, 8)[..7], &[fd]).unwrap();
    works(&socket, "while a client stalls");
    // A socket closed in the middle of a command (the path answers after 200 ms).
    let sim_path = lun.paths()[0].transport();
    if let pr_multipath::AnyPath::Sim(p) = sim_path {
        p.set_latency(Latency::Fixed(Duration::from_millis(200)));
    } else {
        panic!("{path}: not a simulated path");
    }
    let mut c = raw(&socket);
    c.send_raw(&pr_in_cdb(0, 8), &[fd]).unwrap();
    drop(c);
    let t = Instant::now();
    works(&socket, "after a close mid-command");
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "latency not applied"
    );
    if let pr_multipath::AnyPath::Sim(p) = sim_path {
        p.set_latency(Latency::None);
    }
    drop(stalled);

    // 1,000 concurrent connections, each with two commands.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    let ok = rt.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..1000 {
            clients.push(Client::connect(&socket).await.unwrap());
        }
        let mut tasks = tokio::task::JoinSet::new();
        for mut c in clients {
            tasks.spawn(async move {
                let dev = dev_rw();
                let a = c.call(&dev, &pr_in_cdb(0x02, 8), &[]).await.unwrap();
                let b = c.call(&dev, &pr_in_cdb(0x00, 8192), &[]).await.unwrap();
                (a.status(), b.status())
            });
        }
        let mut ok = 0;
        while let Some(r) = tasks.join_next().await {
            let (a, b) = r.unwrap();
            assert_eq!((a, b), (0, 0));
            ok += 1;
        }
        ok
    });
    assert_eq!(ok, 1000);
    eprintln!("1,000 connections x 2 commands: {:?}", t.elapsed());
    drop(rt);

    works(&socket, "after everything");
    let after = settle_fds(before);
    eprintln!("descriptors: {before} before, {after} after");
    assert!(
        after <= before,
        "descriptors before {before}, after {after}: {before_list:#?} then {:#?}",
        fd_list()
    );
    run.stop();
}
