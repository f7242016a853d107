//! The sysexits codes: 78 bad config, 69 imsg missing or without rpc, 77 Full Disk Access, 2 usage.

use crate::fixture::{World, config_for, run_bin};

#[test]
fn a_bad_config_is_78_with_path_and_line() {
    let w = World::new();
    w.write_config(
        "{\n  channels: {\n    imessage: {\n      dmPolicy: \"sometimes\",\n    },\n  },\n}\n",
    );
    for args in [
        &["config", "check"][..],
        &["run"],
        &["doctor"],
        &["policy", "explain", "--from", "+1555"],
    ] {
        let out = w.run(args);
        assert_eq!(out.code, 78, "{args:?}: {}", out.stderr);
        // doctor reports on stdout as one of its checks; the others fail with one stderr line.
        let report = if args[0] == "doctor" {
            &out.stdout
        } else {
            &out.stderr
        };
        assert!(report.contains("config.json5"), "{args:?}: {report}");
    }
    let out = w.run(&["config", "check"]);
    let first = out.stderr.lines().next().unwrap();
    assert!(first.starts_with("error: "), "{first}");
    assert!(first.contains("channels.imessage.dmPolicy"), "{first}");
    assert!(first.contains("line 4"), "{first}");
    assert!(out.stderr.lines().nth(1).unwrap().starts_with("hint: "));
    let json = w.run(&["config", "check", "--json"]).json();
    assert_eq!(json["ok"], false);
}

#[test]
fn a_missing_config_is_78_with_a_hint() {
    let w = World::new();
    let out = w.run(&["config", "check"]);
    assert_eq!(out.code, 78);
    assert!(
        out.stderr.contains("cannot read the config file"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_config_comes_from_the_environment_when_no_flag_names_it() {
    let w = World::new();
    let (imsg, db) = w.sim();
    w.write_config(&config_for(&imsg, &db, ""));
    let out = run_bin(
        &["config".into(), "check".into(), "--json".into()],
        &[("IMSG_GATEWAY_CONFIG", w.config().to_str().unwrap())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["source"], "IMSG_GATEWAY_CONFIG");
}

#[test]
fn usage_errors_are_2() {
    assert_eq!(run_bin(&["frobnicate".into()], &[]).code, 2);
    assert_eq!(
        run_bin(&["pairing".into(), "list".into(), "whatsapp".into()], &[]).code,
        2
    );
}

#[test]
fn a_missing_imsg_is_69() {
    let w = World::new();
    let db = w.path("chat.db");
    w.write_config(&config_for(&w.path("no/such/imsg"), &db, ""));
    let run = w.run(&["run"]);
    assert_eq!(run.code, 69, "{}", run.stderr);
    assert!(run.stderr.contains("imsg not found"), "{}", run.stderr);
    let doctor = w.run(&["doctor"]);
    assert_eq!(doctor.code, 69, "{}", doctor.stdout);
    assert!(
        doctor.stdout.contains("fail default: cliPath"),
        "{}",
        doctor.stdout
    );
    let status = w.run(&["channels", "status", "--probe", "--json"]).json();
    assert_eq!(status["accounts"][0]["probe"]["exitCode"], 69);
}

#[test]
fn an_imsg_without_rpc_is_69() {
    let w = World::new();
    let old = w.script("imsg-old", "echo \"Error: Unknown command 'rpc'\"\nexit 64");
    w.write_config(&config_for(&old, &w.path("chat.db"), ""));
    let run = w.run(&["run"]);
    assert_eq!(run.code, 69, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("does not support the \"rpc\" subcommand"),
        "{}",
        run.stderr
    );
    let doctor = w.run(&["doctor", "--json"]);
    assert_eq!(doctor.code, 69);
    let json = doctor.json();
    let rpc = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "default: rpc")
        .unwrap();
    assert_eq!(rpc["status"], "fail");
    assert!(rpc["fix"].as_str().unwrap().contains("update imsg"));
}

#[test]
fn missing_full_disk_access_is_77() {
    let w = World::new();
    let (imsg, _) = w.sim();
    // The simulator's startup-error mode: a chat.db it cannot open answers every request with
    // imsg's Full Disk Access error.
    w.write_config(&config_for(&imsg, &w.path("locked/chat.db"), ""));
    let run = w.run(&["run"]);
    assert_eq!(run.code, 77, "{}", run.stderr);
    assert!(run.stderr.contains("Full Disk Access"), "{}", run.stderr);
    let doctor = w.run(&["doctor"]);
    assert_eq!(doctor.code, 77, "{}", doctor.stdout);
    assert!(
        doctor.stdout.contains("fail default: full disk access"),
        "{}",
        doctor.stdout
    );
    assert!(
        doctor.stdout.contains("fix: System Settings"),
        "{}",
        doctor.stdout
    );
}

#[test]
fn run_without_an_enabled_account_is_78() {
    let w = World::new();
    let (imsg, db) = w.sim();
    w.write_config(&config_for(&imsg, &db, "      enabled: false,"));
    let out = w.run(&["run"]);
    assert_eq!(out.code, 78, "{}", out.stderr);
    assert!(out.stderr.contains("no enabled iMessage account"));
}
