//! multipath.conf and prkeys parsing.

use pr_core::types::ReservationKey as K;
use pr_multipath::config::{
    ConfiguredKey, KeySetting, KeySource, MultipathConf, PrKeys, parse_key,
};

const CONF: &str = r#"
# comment
defaults {
	user_friendly_names yes
	reservation_key 0x123abc   # trailing comment
	all_tg_pt yes
}
blacklist {
	devnode "^sda"
}
multipaths {
	multipath {
		wwid 36001405aaaa
		alias "db"
		reservation_key file
	}
	multipath {
		wwid "36001405bbbb"
		reservation_key 0xdeadbeef:aptpl
	}
	multipath {
		wwid 36001405cccc
	}
}
"#;

#[test]
fn keys_parse_like_multipath_tools() {
    assert_eq!(parse_key("0x123abc"), Some(K(0x123abc)));
    assert_eq!(parse_key("0X123ABC"), Some(K(0x123abc)));
    assert_eq!(parse_key("123abc"), Some(K(0x123abc)));
    assert_eq!(parse_key("x10"), Some(K(0x10)));
    assert_eq!(parse_key("0xffffffffffffffff"), Some(K(u64::MAX)));
    assert_eq!(parse_key("0x1ffffffffffffffff"), None);
    assert_eq!(parse_key("0x"), None);
    assert_eq!(parse_key("0xzz"), None);
    assert_eq!(
        KeySetting::parse("0x1:aptpl"),
        Some(KeySetting::Key {
            key: K(1),
            aptpl: true
        })
    );
    assert_eq!(KeySetting::parse("file"), Some(KeySetting::File));
}

#[test]
fn multipath_conf_sections() {
    let c = MultipathConf::parse(CONF, "test").unwrap();
    assert_eq!(
        c.defaults_key,
        Some(KeySetting::Key {
            key: K(0x123abc),
            aptpl: false
        })
    );
    assert_eq!(c.all_tg_pt, Some(true));
    assert_eq!(c.multipaths.len(), 3);
    assert_eq!(c.multipaths[0].alias.as_deref(), Some("db"));
    assert_eq!(
        c.reservation_key_for("36001405aaaa"),
        Some(KeySetting::File)
    );
    assert_eq!(
        c.reservation_key_for("36001405bbbb"),
        Some(KeySetting::Key {
            key: K(0xdeadbeef),
            aptpl: true
        })
    );
    // An entry without its own key falls back to defaults, as does an unknown WWID.
    assert_eq!(c.reservation_key_for("36001405cccc"), c.defaults_key);
    assert_eq!(c.reservation_key_for("other"), c.defaults_key);
    assert!(MultipathConf::parse("defaults {\n", "t").is_err());
    assert!(MultipathConf::parse("}\n", "t").is_err());
    let e = MultipathConf::parse("defaults {\n reservation_key 0xzz\n}\n", "t").unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
}

#[test]
fn prkeys_file() {
    let text = "# Multipath persistent reservation keys, Version : 1.0\n\
                # NOTE: this file is automatically maintained by the multipathd program.\n\
                0x0000000000123abc 36001405aaaa\n\
                #x00000000000000ff 36001405dead\n\
                0X00000000deadbeef 36001405bbbb\n\
                garbage\n\
                0x0000000000000042 36001405aaaa\n";
    let k = PrKeys::parse(text);
    assert_eq!(k.entries.len(), 3);
    assert_eq!(
        k.get("36001405aaaa").unwrap().key,
        K(0x42),
        "the last line wins"
    );
    let b = k.get("36001405bbbb").unwrap();
    assert_eq!((b.key, b.aptpl), (K(0xdeadbeef), true));
    assert!(
        k.get("36001405dead").is_none(),
        "removed entries are commented out"
    );

    let conf = MultipathConf::parse(CONF, "t").unwrap();
    assert_eq!(
        ConfiguredKey::resolve(&conf, &k, "36001405aaaa"),
        Some(ConfiguredKey {
            key: K(0x42),
            aptpl: false,
            source: KeySource::File
        })
    );
    assert_eq!(
        ConfiguredKey::resolve(&conf, &PrKeys::default(), "36001405aaaa").map(|c| c.key),
        Some(K(0))
    );
    assert_eq!(
        ConfiguredKey::resolve(&MultipathConf::default(), &k, "36001405aaaa"),
        None
    );
}

#[test]
fn files_load_and_missing_files_are_empty() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("multipath.conf");
    std::fs::write(&p, CONF).unwrap();
    assert!(MultipathConf::load(&p).unwrap().defaults_key.is_some());
    assert_eq!(
        MultipathConf::load(dir.path().join("none")).unwrap(),
        MultipathConf::default()
    );
    assert!(
        PrKeys::load(dir.path().join("none"))
            .unwrap()
            .entries
            .is_empty()
    );
}
