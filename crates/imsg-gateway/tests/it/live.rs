//! Tests that need the iMessage channel wired into `wiring::build_channel`: the demo, `run` with
//! SIGTERM and SIGHUP, `channels status` from another process, `pairing approve` against a
//! running gateway. They drive the binary with the embedded simulator as `imsg`.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::fixture::{BIN, BOUND, World, config_for, run_bin, wait_bounded};

/// A running `imsg-gateway run` whose stderr (JSON log lines) is collected.
struct Gateway {
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Gateway {
    fn start(w: &World) -> Gateway {
        let mut child = Command::new(BIN)
            .args([
                "--config",
                w.config().to_str().unwrap(),
                "--state-dir",
                w.state().to_str().unwrap(),
            ])
            .args(["--log-format", "json", "run", "--drain-timeout", "5"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap().push(line);
            }
        });
        Gateway {
            child: Some(child),
            log,
        }
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.as_ref().unwrap().id()).unwrap()
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal).unwrap();
    }

    /// Waits until a log line contains `needle`.
    fn wait_log(&self, needle: &str) {
        wait_until(&format!("log line `{needle}`"), || {
            self.log.lock().unwrap().iter().any(|l| l.contains(needle))
        });
    }

    fn stop(mut self) -> i32 {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let mut child = self.child.take().unwrap();
        // stderr was taken by the reader thread; only the status is waited for here.
        child.stdout = None;
        let deadline = Instant::now() + BOUND;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "run did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn live_state(w: &World) -> serde_json::Value {
    w.run(&["channels", "status", "--json"]).json()["accounts"][0]["live"].clone()
}

fn inject(db: &std::path::Path, from: &str, text: &str) {
    imsg_sim::db::inject(
        db,
        &imsg_sim::db::Message {
            handle: from.into(),
            text: Some(text.into()),
            ..imsg_sim::db::Message::default()
        },
    )
    .unwrap();
}

/// The texts of the outgoing rows.
fn sent(db: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT COALESCE(text, '') FROM message WHERE is_from_me = 1 ORDER BY ROWID")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn the_demo_finishes_and_exits_0() {
    let started = Instant::now();
    let child = Command::new(BIN)
        .args(["demo", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_bounded(child);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(started.elapsed() < Duration::from_secs(60));
    let events: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let decisions: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "decision")
        .map(|e| e["decision"].as_str().unwrap())
        .collect();
    assert_eq!(
        decisions,
        ["pair", "dispatch", "drop", "dispatch", "dispatch", "drop"]
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "reply" && e["service"] == "SMS")
    );
    assert_eq!(events.last().unwrap()["ok"], true);
    let human = run_bin(&["demo".into()], &[]);
    assert_eq!(human.code, 0);
    assert!(human.stdout.contains("demo finished"), "{}", human.stdout);
}

#[test]
fn run_publishes_its_status_and_stops_cleanly_on_sigterm() {
    let w = World::new();
    let (imsg, db) = w.sim();
    w.write_config(&config_for(
        &imsg,
        &db,
        "      dmPolicy: \"open\", allowFrom: [\"*\"],",
    ));
    let gateway = Gateway::start(&w);
    wait_until("state running", || live_state(&w)["state"] == "running");
    assert_eq!(live_state(&w)["pid"], gateway.pid());
    inject(&db, "+15555550101", "hello");
    wait_until("an answer", || {
        sent(&db).iter().any(|t| t.contains("hello"))
    });
    assert_eq!(gateway.stop(), 0);
    assert_eq!(live_state(&w)["state"], "not running");
}

#[test]
fn sighup_keeps_the_old_config_on_a_bad_file_and_applies_a_good_one() {
    let w = World::new();
    let (imsg, db) = w.sim();
    w.write_config(&config_for(
        &imsg,
        &db,
        "      dmPolicy: \"allowlist\", allowFrom: [\"+15555550101\"],",
    ));
    let gateway = Gateway::start(&w);
    wait_until("state running", || live_state(&w)["state"] == "running");

    w.write_config("{ channels: { imessage: { dmPolicy: 'sometimes' } } }");
    gateway.signal(nix::sys::signal::Signal::SIGHUP);
    gateway.wait_log("reload failed");
    inject(&db, "+15555550101", "still there?");
    wait_until("an answer under the old config", || {
        sent(&db).iter().any(|t| t.contains("still there?"))
    });

    w.write_config(&config_for(
        &imsg,
        &db,
        "      dmPolicy: \"allowlist\", allowFrom: [\"+15555550102\"],",
    ));
    gateway.signal(nix::sys::signal::Signal::SIGHUP);
    gateway.wait_log("reload applied");
    wait_until("state running again", || {
        live_state(&w)["state"] == "running"
    });
    inject(&db, "+15555550102", "new friend");
    wait_until("an answer under the new config", || {
        sent(&db).iter().any(|t| t.contains("new friend"))
    });
    assert_eq!(gateway.stop(), 0);
}

#[test]
fn pairing_approve_works_against_a_running_gateway() {
    let w = World::new();
    let (imsg, db) = w.sim();
    w.write_config(&config_for(&imsg, &db, "      dmPolicy: \"pairing\","));
    let gateway = Gateway::start(&w);
    wait_until("state running", || live_state(&w)["state"] == "running");
    inject(&db, "+15555550101", "hi");
    let mut code = String::new();
    wait_until("a pairing request", || {
        let list = w.run(&["pairing", "list", "imessage", "--json"]).json();
        code = list["requests"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        !code.is_empty()
    });
    assert!(
        sent(&db).iter().any(|t| t.contains(&code)),
        "the code was sent to the sender"
    );
    let approve = w.run(&["pairing", "approve", "imessage", &code.to_lowercase()]);
    assert_eq!(approve.code, 0, "{}", approve.stderr);
    inject(&db, "+15555550101", "and now?");
    wait_until("an answer after approval", || {
        sent(&db).iter().any(|t| t.contains("and now?"))
    });
    assert_eq!(gateway.stop(), 0);
}
