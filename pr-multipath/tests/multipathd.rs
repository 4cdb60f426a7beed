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
