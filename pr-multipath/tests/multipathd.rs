//! multipathd socket client against fake servers speaking the real framing.

mod common;

use std::collections::HashMap;
use std::os::linux::net::SocketAddrExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pr_core::types::ReservationKey as K;
use pr_multipath::multipathd::{
    Capabilities, CommandChannel, Multipathd, MultipathdError, PrFlag, SocketClient, decode_body,
    encode_frame,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// Serves one framed command per connection, like multipathd's uxlsnr, recording commands.
fn serve(listener: UnixListener, modern: bool) -> Arc<Mutex<Vec<String>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let state = Arc::new(Mutex::new(HashMap::new()));
    let l2 = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut len = [0u8; size_of::<usize>()];
            if s.read_exact(&mut len).await.is_err() {
                continue;
            }
            let n = usize::from_ne_bytes(len);
            let mut body = vec![0u8; n];
            s.read_exact(&mut body).await.unwrap();
            assert_eq!(body.last(), Some(&0), "the length counts the trailing NUL");
            let cmd = decode_body(&body);
            l2.lock().unwrap().push(cmd.clone());
            let reply = common::daemon_reply(modern, &state, &cmd);
            s.write_all(&encode_frame(&reply)).await.unwrap();
        }
    });
    log
}

#[test]
fn framing_is_native_size_t_with_the_nul_counted() {
    let f = encode_frame("getprkey map mpatha");
    assert_eq!(&f[..8], &20usize.to_ne_bytes());
    assert_eq!(&f[8..], b"getprkey map mpatha\0");
    assert_eq!(decode_body(b"ok\n\0"), "ok\n");
}

#[tokio::test]
async fn modern_server_over_a_pathname_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("multipathd.socket");
    let log = serve(UnixListener::bind(&path).unwrap(), true);
    // The first name does not exist: the client moves on to the next, as libmpathcmd does.
    let client = SocketClient::with_names([
        dir.path().join("missing").display().to_string(),
        path.display().to_string(),
    ]);
    let d = Multipathd::new(Arc::new(client));
    assert_eq!(
        d.probe("mpatha").await.unwrap(),
        Capabilities {
            prstatus: true,
            prhold: true,
            pathlist: true
        }
    );
    d.set_prkey("mpatha", K(0x123abc), true).await.unwrap();
    assert_eq!(
        d.get_prkey("mpatha")
            .await
            .unwrap()
            .map(|k| (k.key, k.aptpl)),
        Some((K(0x123abc), true))
    );
    d.set_prstatus("mpatha", &["sdb".into(), "8:32".into()])
        .await
        .unwrap();
    assert_eq!(d.get_prstatus("mpatha").await.unwrap(), PrFlag::Set);
    assert!(d.set_prhold("mpatha").await.unwrap());
    assert_eq!(d.get_prhold("mpatha").await.unwrap(), Some(PrFlag::Set));
    d.unset_prstatus("mpatha").await.unwrap();
    assert_eq!(d.get_prhold("mpatha").await.unwrap(), Some(PrFlag::Unset));
    d.unset_prkey("mpatha").await.unwrap();
    assert_eq!(d.get_prkey("mpatha").await.unwrap(), None);
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains(&"setprkey map mpatha key 123abc:aptpl".to_owned()),
        "{log:?}"
    );
    assert!(
        log.contains(&"setprstatus map mpatha pathlist \"sdb 8:32\"".to_owned()),
        "{log:?}"
    );
}

#[tokio::test]
async fn debian_0_9_4_server_over_the_abstract_socket_degrades() {
    let name = format!(
        "/org/kernel/linux/storage/multipathd-test-{}",
        std::process::id()
    );
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let std_l = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    std_l.set_nonblocking(true).unwrap();
    let log = serve(UnixListener::from_std(std_l).unwrap(), false);
    let d = Multipathd::new(Arc::new(SocketClient::with_names([
        "/nonexistent/multipathd.socket".to_owned(),
        format!("@{name}"),
    ])));
    let caps = d.probe("mpatha").await.unwrap();
    assert_eq!(
        caps,
        Capabilities {
            prstatus: true,
            prhold: false,
            pathlist: false
        }
    );
    assert_eq!(d.capabilities(), Some(caps));
    // prhold commands are skipped, not sent; setprstatus goes without a path list.
    assert!(!d.set_prhold("mpatha").await.unwrap());
    assert_eq!(d.get_prhold("mpatha").await.unwrap(), None);
    d.set_prstatus("mpatha", &["sdb".into()]).await.unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log,
        vec![
            "getprstatus map mpatha",
            "getprhold map mpatha",
            "setprstatus map mpatha"
        ]
    );
}

#[tokio::test]
async fn refusals_timeouts_and_missing_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let _log = serve(UnixListener::bind(&path).unwrap(), false);
    let d = Multipathd::new(Arc::new(SocketClient::with_names([path
        .display()
        .to_string()])));
    let e = d.unset_prhold("mpatha").await; // not supported: Ok(false)
    assert!(!e.unwrap());
    // 0.9.4 does not know the keyword: "fail".
    assert_eq!(d.raw("getprhold map mpatha").await.unwrap(), "fail\n");

    // A server that accepts and never answers.
    let silent = dir.path().join("silent");
    let l = UnixListener::bind(&silent).unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    let c = SocketClient::with_names([silent.display().to_string()])
        .timeout(Duration::from_millis(100));
    let e = c.send("show maps").await.unwrap_err();
    assert!(matches!(e, MultipathdError::Timeout { .. }), "{e}");

    let c = SocketClient::with_names([dir.path().join("none").display().to_string()]);
    let e = c.send("show maps").await.unwrap_err();
    assert!(matches!(e, MultipathdError::Connect { .. }), "{e}");
    let _ = UnixStream::connect(&path).await.unwrap();
}

/// Serves any number of framed commands per connection (as multipathd does), counting
/// connections.
fn serve_persistent(listener: UnixListener) -> (Arc<Mutex<Vec<String>>>, Arc<Mutex<usize>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let conns = Arc::new(Mutex::new(0usize));
    let state = Arc::new(Mutex::new(HashMap::new()));
    let (l2, c2) = (Arc::clone(&log), Arc::clone(&conns));
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            *c2.lock().unwrap() += 1;
            let (l3, st) = (Arc::clone(&l2), Arc::clone(&state));
            tokio::spawn(async move {
                loop {
                    let mut len = [0u8; size_of::<usize>()];
                    if s.read_exact(&mut len).await.is_err() {
                        return;
                    }
                    let mut body = vec![0u8; usize::from_ne_bytes(len)];
                    if s.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let cmd = decode_body(&body);
                    l3.lock().unwrap().push(cmd.clone());
                    let reply = common::daemon_reply(true, &st, &cmd);
                    if s.write_all(&encode_frame(&reply)).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (log, conns)
}

#[tokio::test]
async fn connections_are_reused_across_commands_and_clones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("multipathd.socket");
    let (log, conns) = serve_persistent(UnixListener::bind(&path).unwrap());
    let client = SocketClient::with_names([path.display().to_string()]);
    let d = Multipathd::new(Arc::new(client.clone()));
    let d2 = d.clone();
    for i in 0..10 {
        let map = format!("mpath{i}");
        d.set_prkey(&map, K(0x10 + i), false).await.unwrap();
        assert_eq!(
            d2.get_prkey(&map).await.unwrap().map(|k| k.key),
            Some(K(0x10 + i))
        );
    }
    assert_eq!(log.lock().unwrap().len(), 20);
    assert_eq!(
        *conns.lock().unwrap(),
        1,
        "one connection for 20 sequential commands"
    );
    assert_eq!(client.idle_connections(), 1);
    // Concurrent commands use a few connections, kept up to the idle limit.
    let futs: Vec<_> = (0..8)
        .map(|i| {
            let d = d.clone();
            async move { d.get_prstatus(&format!("mpath{i}")).await.unwrap() }
        })
        .collect();
    futures_util::future::join_all(futs).await;
    assert!(*conns.lock().unwrap() <= 9);
    assert!(client.idle_connections() <= pr_multipath::multipathd::MAX_IDLE_CONNECTIONS);
}

#[tokio::test]
async fn a_server_closing_after_each_reply_still_gets_every_command_once() {
    // multipathd closing an idle connection: the reused connection fails before any reply
    // byte, and the command goes once over a fresh connection.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("multipathd.socket");
    let log = serve(UnixListener::bind(&path).unwrap(), true);
    let d = Multipathd::new(Arc::new(SocketClient::with_names([path
        .display()
        .to_string()])));
    for i in 0..5 {
        d.set_prkey("mpatha", K(0x20 + i), false).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        d.get_prkey("mpatha").await.unwrap().map(|k| k.key),
        Some(K(0x24))
    );
    assert_eq!(log.lock().unwrap().len(), 6, "{:?}", log.lock().unwrap());
}

#[tokio::test]
async fn concurrent_probes_of_a_shared_client_probe_once() {
    struct Counting(Mutex<Vec<String>>);
    impl CommandChannel for Counting {
        fn send<'a>(
            &'a self,
            command: &'a str,
        ) -> futures_util::future::BoxFuture<'a, Result<String, MultipathdError>> {
            self.0.lock().unwrap().push(command.to_owned());
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok("unset\n".to_owned())
            })
        }
    }
    let chan = Arc::new(Counting(Mutex::new(Vec::new())));
    let d = Multipathd::new(chan.clone());
    let futs: Vec<_> = (0..16)
        .map(|i| {
            let d = d.clone();
            async move { d.probe(&format!("mpath{i}")).await.unwrap() }
        })
        .collect();
    let caps = futures_util::future::join_all(futs).await;
    assert!(caps.iter().all(|c| c.prstatus && c.prhold));
    assert_eq!(
        chan.0.lock().unwrap().len(),
        2,
        "getprstatus + getprhold once"
    );
}
