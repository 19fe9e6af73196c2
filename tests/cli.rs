//! The command-line contract: check, cert self-signed, version.

mod common;

use std::process::Command;

fn outpost(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(common::outpost_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run outpost")
}

#[test]
fn check_reports_positioned_errors_and_exit_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bad.yaml"),
        "listen:\n  http: \"127.0.0.1:8080\"\nsites:\n  - hosts: [\"a.test\"]\n    origins:\n      - \"http://10.0.0.1:80\"\n      - \"htp://x\"\n",
    )
    .expect("write");
    let out = outpost(&["check", "--config", "bad.yaml"], dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:7:9: sites[0].origins[1]: \"htp://x\" is not a URL (expected http://HOST[:PORT], https://HOST[:PORT] or static:DIR)"),
        "{err}"
    );

    std::fs::create_dir(dir.path().join("public")).expect("mkdir");
    std::fs::write(
        dir.path().join("good.yaml"),
        "listen: { http: \"127.0.0.1:8080\" }\nsites:\n  - default: true\n    origins: [\"static:./public\"]\n",
    )
    .expect("write");
    let out = outpost(&["check", "--config", "good.yaml"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok"));
}

/// Selectors are compiled by the proxy (the config crate holds no HTML parser), and a
/// bad one is still reported at its position, by `check` and by `run`.
#[test]
fn bad_css_selectors_are_reported_at_their_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("outpost.yaml"),
        "listen: { http: \"127.0.0.1:1\" }\nsites:\n  - default: true\n    origins: [\"http://127.0.0.1:2\"]\n    html_profiles:\n      banner:\n        elements:\n          - select: \"a:hover\"\n            remove: true\n",
    )
    .expect("write");
    let expected = "outpost.yaml:8:21: sites[0].html_profiles.banner.elements[0].select: bad CSS selector \"a:hover\": Unsupported pseudo-class or pseudo-element in selector.";
    for cmd in ["check", "run"] {
        let out = outpost(&[cmd, "--config", "outpost.yaml"], dir.path());
        assert!(!out.status.success(), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{cmd}: {err}");
    }
}

/// A page rule's `image` options are checked where images are transformed (the
/// config crate holds no image code), and reported at their position.
#[test]
fn bad_image_rule_options_are_reported_at_their_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("outpost.yaml"),
        "listen: { http: \"127.0.0.1:1\" }\nsites:\n  - default: true\n    origins: [\"http://127.0.0.1:2\"]\n    rules: rules.yaml\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("rules.yaml"),
        "- match: \"/thumbs/*\"\n  actions: { image: { width: 100, fit: stretch } }\n",
    )
    .expect("write");
    let expected = "rules.yaml:2:21: [0].actions.image: invalid image option \"fit=stretch\": expected scale-down, contain, cover, crop or pad";
    for cmd in ["check", "run"] {
        let out = outpost(&[cmd, "--config", "outpost.yaml"], dir.path());
        assert!(!out.status.success(), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{cmd}: {err}");
    }
}

#[test]
fn self_signed_cert_is_usable_by_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = outpost(
        &[
            "cert",
            "self-signed",
            "dev.test",
            "*.dev.test",
            "--cert",
            "c.pem",
            "--key",
            "k.pem",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("k.pem"))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let pem = std::fs::read(dir.path().join("c.pem")).expect("cert");
    let der = rustls_pki_types::pem::PemObject::from_pem_slice(&pem)
        .map(|c: rustls_pki_types::CertificateDer| c.to_vec())
        .expect("pem");
    let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("x509");
    let san = cert
        .subject_alternative_name()
        .expect("san")
        .expect("present");
    assert_eq!(san.value.general_names.len(), 2);

    std::fs::create_dir(dir.path().join("public")).expect("mkdir");
    std::fs::write(
        dir.path().join("tls.yaml"),
        "listen: { https: \"127.0.0.1:8443\" }\ntls:\n  certificates: [ { cert: c.pem, key: k.pem } ]\nsites:\n  - default: true\n    origins: [\"static:./public\"]\n",
    )
    .expect("write");
    let out = outpost(&["check", "--config", "tls.yaml"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn version_and_help() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = outpost(&["--version"], dir.path());
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // `outpost X.Y.Z (commit)`: the git commit it was built from, or `unknown`.
    let commit = version
        .strip_prefix(&format!("outpost {} (", env!("CARGO_PKG_VERSION")))
        .and_then(|v| v.strip_suffix(')'))
        .unwrap_or_else(|| panic!("version line: {version:?}"));
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{version}"
    );
    let out = outpost(&["--help"], dir.path());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["run", "check", "proxy", "cert", "completions"] {
        assert!(help.contains(cmd), "{help}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let out = outpost(&["completions", shell], dir.path());
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && script.contains("outpost") && script.contains("rules"),
            "{shell}"
        );
    }
}

#[test]
fn busy_listen_address_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = busy.local_addr().expect("addr").to_string();
    let out = outpost(
        &["proxy", "--listen", &addr, "--origin", "http://127.0.0.1:9"],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}: ")), "{err}");
}

#[test]
fn check_reports_expired_certificates_and_mismatched_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    // An expired certificate (valid 2020-2021) and a valid one with another key.
    let mut params = rcgen::CertificateParams::new(vec!["old.test".to_string()]).expect("params");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    std::fs::write(dir.path().join("old.pem"), cert.pem()).expect("write");
    std::fs::write(dir.path().join("old.key"), key.serialize_pem()).expect("write");
    let other = rcgen::KeyPair::generate().expect("key");
    std::fs::write(dir.path().join("other.key"), other.serialize_pem()).expect("write");
    std::fs::create_dir(dir.path().join("public")).expect("mkdir");
    let config = |key: &str| {
        format!(
            "listen: {{ https: \"127.0.0.1:8443\" }}\ntls:\n  certificates:\n    - {{ cert: old.pem, key: {key} }}\nsites:\n  - default: true\n    origins: [\"static:./public\"]\n"
        )
    };
    std::fs::write(dir.path().join("expired.yaml"), config("old.key")).expect("write");
    let out = outpost(&["check", "--config", "expired.yaml"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("old.pem: certificate expired on 2021-01-01"),
        "{err}"
    );

    std::fs::write(dir.path().join("mismatch.yaml"), config("other.key")).expect("write");
    let out = outpost(&["check", "--config", "mismatch.yaml"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("does not match the certificate"), "{err}");
}
