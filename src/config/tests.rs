//! Tests of flag/env/default resolution, validation messages and the help text.

use std::collections::HashMap;
use std::time::Duration;

use super::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|arg| arg.to_string()).collect()
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn run(list: &[&str], env: &HashMap<&str, &str>) -> Result<Config, ConfigError> {
    match parse(args(list), |name| env.get(name).map(|value| value.to_string()))? {
        Command::Run(config) => Ok(*config),
        other => panic!("expected Run, got {other:?}"),
    }
}

#[test]
fn defaults_apply_without_flags_or_env() {
    let config = run(&[], &HashMap::new()).expect("defaults are valid");
    assert_eq!(config.host.to_string(), "0.0.0.0");
    assert_eq!(config.port, 7654);
    assert_eq!(config.dashboard.map(|addr| addr.to_string()), Some("127.0.0.1:8080".to_string()));
    assert!((1..=MAX_SHARDS).contains(&config.shards));
    let working_dir = std::env::current_dir().expect("a working directory");
    assert_eq!(config.data_dir, working_dir.join("nexo-data"), "relative paths are made absolute");
    assert_eq!(config.auth_token, None);
    assert_eq!(config.max_frame_bytes, 16 << 20);
    assert_eq!(config.store_fsync, FsyncPolicy::Interval(Duration::from_millis(1000)));
    assert_eq!(config.store_maxmemory, 0);
    assert_eq!(config.store_eviction.to_string(), "noeviction");
    assert_eq!(config.store_snapshot_wal_bytes, 64 << 20);
    assert_eq!(config.shutdown_grace_ms, 5000);
}

#[test]
fn flag_beats_env_and_env_beats_default() {
    let env = HashMap::from([("NEXO_PORT", "9000"), ("NEXO_SHARDS", "3")]);
    let config = run(&["--port", "9100"], &env).expect("valid");
    assert_eq!(config.port, 9100);
    assert_eq!(config.shards, 3);
}

#[test]
fn both_flag_forms_are_accepted() {
    let config = run(
        &["--store-fsync=always", "--store-maxmemory", "2GB", "--dashboard=off", "--auth-token", "s3cret"],
        &HashMap::new(),
    )
    .expect("valid");
    assert_eq!(config.store_fsync, FsyncPolicy::Always);
    assert_eq!(config.store_maxmemory, 2 << 30);
    assert_eq!(config.dashboard, None);
    assert_eq!(config.auth_token.as_deref(), Some("s3cret"));
}

#[test]
fn a_switch_is_on_when_given_bare_and_reads_true_or_false_otherwise() {
    assert!(!run(&[], &HashMap::new()).expect("valid").dashboard_read_only);
    let bare = run(&["--dashboard-read-only", "--port", "9100"], &HashMap::new()).expect("valid");
    assert!(bare.dashboard_read_only);
    assert_eq!(bare.port, 9100, "a bare switch does not take the next argument");
    assert!(!run(&["--dashboard-read-only=false"], &HashMap::new()).expect("valid").dashboard_read_only);
    let env = HashMap::from([("NEXO_DASHBOARD_READ_ONLY", "on")]);
    assert!(run(&[], &env).expect("valid").dashboard_read_only);
    assert!(run(&["--dashboard-read-only=maybe"], &HashMap::new()).is_err());
}

#[test]
fn every_option_reads_its_env_var() {
    let env = HashMap::from([
        ("NEXO_HOST", "::1"),
        ("NEXO_DATA_DIR", "/tmp/x"),
        ("NEXO_STORE_EVICTION", "volatile-ttl"),
        ("NEXO_STORE_FSYNC", "never"),
        ("NEXO_SHUTDOWN_GRACE_MS", "10"),
        ("NEXO_MAX_FRAME_BYTES", "64kb"),
        ("NEXO_STORE_SNAPSHOT_WAL_BYTES", "1mb"),
        ("NEXO_MAX_CONNECTIONS", "64"),
    ]);
    let config = run(&[], &env).expect("valid");
    assert_eq!(config.host.to_string(), "::1");
    assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
    assert_eq!(config.store_eviction.to_string(), "volatile-ttl");
    assert_eq!(config.store_fsync, FsyncPolicy::Never);
    assert_eq!(config.shutdown_grace_ms, 10);
    assert_eq!(config.max_frame_bytes, 64 << 10);
    assert_eq!(config.store_snapshot_wal_bytes, 1 << 20);
    assert_eq!(config.max_connections, 64);
}

/// One invalid value per option; the error must name the flag and the env var, whichever supplied it.
const INVALID: [(&str, &str); 23] = [
    ("host", "localhost"),
    ("port", "65536"),
    ("resp-port", "http"),
    ("dashboard", "8080"),
    ("dashboard-read-only", "maybe"),
    ("shards", "0"),
    ("data-dir", ""),
    ("auth-token", ""),
    ("max-frame-bytes", "2gb"),
    ("max-connections", "0"),
    ("store-fsync", "interval:0"),
    ("store-maxmemory", "lots"),
    ("store-eviction", "random"),
    ("store-snapshot-wal-bytes", "0"),
    ("queue-fsync", "interval:x"),
    ("queue-compact-wal-bytes", "0"),
    ("stream-fsync", "sometimes"),
    ("stream-segment-bytes", "0"),
    ("stream-compact-wal-bytes", "1xb"),
    ("retained-fsync", "sometimes"),
    ("pubsub-output-buffer-bytes", "1kb"),
    ("pubsub-slow-consumer", "block"),
    ("shutdown-grace-ms", "-5"),
];

#[test]
fn every_invalid_value_names_flag_and_env_var() {
    assert_eq!(INVALID.len(), OPTIONS.len(), "one case per option");
    for (name, value) in INVALID {
        let env_name = format!("NEXO_{}", name.to_ascii_uppercase().replace('-', "_"));
        let from_flag = run(&[&format!("--{name}={value}")], &HashMap::new()).expect_err(name);
        let env = HashMap::from([(env_name.as_str(), value)]);
        let from_env = run(&[], &env).expect_err(name);
        for error in [from_flag, from_env] {
            let message = error.to_string();
            assert!(message.contains(&format!("--{name}")), "{message}");
            assert!(message.contains(&env_name), "{message}");
        }
    }
}

#[test]
fn unknown_flag_is_named_and_points_to_help() {
    let error = parse(args(&["--prot", "1"]), no_env).expect_err("unknown");
    assert_eq!(error, ConfigError::UnknownFlag { flag: "--prot".to_string() });
    assert!(error.to_string().contains("--help"));
}

#[test]
fn malformed_command_lines_are_rejected() {
    assert_eq!(parse(args(&["--port"]), no_env).expect_err("missing"), ConfigError::MissingValue { name: "port" });
    assert_eq!(
        parse(args(&["--port", "--host", "::"]), no_env).expect_err("missing"),
        ConfigError::MissingValue { name: "port" }
    );
    assert_eq!(
        parse(args(&["--port=1", "--port=2"]), no_env).expect_err("repeated"),
        ConfigError::RepeatedFlag { name: "port" }
    );
    assert!(matches!(parse(args(&["serve"]), no_env), Err(ConfigError::UnexpectedArgument { .. })));
}

#[test]
fn help_lists_every_option_with_default_and_env() {
    for flag in ["--help", "-h"] {
        let Ok(Command::Help(text)) = parse(args(&[flag]), no_env) else {
            panic!("{flag} must print help");
        };
        for spec in &OPTIONS {
            let line = text
                .lines()
                .position(|line| line.contains(&format!("--{} ", spec.name)))
                .unwrap_or_else(|| panic!("--{} missing from help", spec.name));
            let details = text.lines().nth(line + 1).unwrap_or_default();
            assert!(details.contains(&spec.env_name()), "{details}");
            assert!(details.contains("[default: "), "{details}");
        }
    }
}

#[test]
fn version_is_printed() {
    for flag in ["--version", "-V"] {
        let Ok(Command::Version(text)) = parse(args(&[flag]), no_env) else {
            panic!("{flag} must print the version");
        };
        assert!(text.starts_with("nexo "));
    }
}
