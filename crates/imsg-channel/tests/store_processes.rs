//! The file-backed stores across real processes: a second process updating the pairing store at the
//! same time as this one, and writers killed with SIGKILL at random instants.
//!
//! The child processes are this test binary run again with `IMSG_STORE_CHILD` naming what to do:
//! each test starts by checking whether it is the child, and if so plays that role.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on a broken setup")]
#![allow(
    clippy::print_stdout,
    reason = "the child tells the parent it has started on stdout"
)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use imsg_channel::store::{
    Cursor, CursorStore, DedupeStore, FileCursorStore, FileDedupeStore, FilePairingStore,
};
use imsg_policy::{PairingSnapshot, PairingStore, ScriptedCodes, UnixMillis};
use imsg_target::{Handle, Region};

const CHILD: &str = "IMSG_STORE_CHILD";
const DIR: &str = "IMSG_STORE_DIR";
const ARG: &str = "IMSG_STORE_ARG";
/// How long a child may take to start, and to finish when not killed.
const CHILD_BOUND: Duration = Duration::from_secs(60);
const DEDUPE_CAPACITY: usize = 40;

/// The role this process plays, when it is a child started by `test`.
fn child_role(test: &str) -> Option<(PathBuf, String)> {
    let role = std::env::var(CHILD).ok()?;
    (role == test).then(|| {
        (
            PathBuf::from(std::env::var(DIR).unwrap()),
            std::env::var(ARG).unwrap_or_default(),
        )
    })
}

/// Starts this binary again, running only `test` as the child, with stdout piped.
fn spawn_child(test: &str, dir: &Path, arg: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .env(DIR, dir)
        .env(ARG, arg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits, bounded, until the child prints `ready`.
fn wait_ready(child: &mut Child) {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains("store-child-ready") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(CHILD_BOUND).is_err() {
        let _ = child.kill();
        panic!("the child never said it was ready");
    }
}

/// Waits, bounded, for the child to exit and returns whether it succeeded.
fn wait_bounded(child: &mut Child) -> bool {
    let deadline = Instant::now() + CHILD_BOUND;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child did not finish within {CHILD_BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A small pseudo-random source (xorshift), seeded from the clock: only the kill instants vary.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        Jitter((nanos as u64) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn approve_directly(snapshot: &mut PairingSnapshot, sender: &str) {
    let approved: Vec<String> = snapshot
        .approved()
        .map(str::to_owned)
        .chain([sender.to_owned()])
        .collect();
    *snapshot = PairingSnapshot::from_parts(
        snapshot.account_id().to_owned(),
        approved,
        snapshot.requests().to_vec(),
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const UPDATES: usize = 60;

#[test]
fn two_processes_updating_the_pairing_store_never_lose_an_update() {
    const TEST: &str = "two_processes_updating_the_pairing_store_never_lose_an_update";
    if let Some((dir, _)) = child_role(TEST) {
        runtime().block_on(async {
            let store = FilePairingStore::new(&dir);
            for i in 0..UPDATES {
                let sender = format!("child-{i:03}");
                store
                    .update("default", |s| approve_directly(s, &sender))
                    .await
                    .unwrap();
                if i == 0 {
                    println!("store-child-ready");
                }
            }
        });
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_child(TEST, dir.path(), "");
    wait_ready(&mut child);
    runtime().block_on(async {
        let store = FilePairingStore::new(dir.path());
        for i in 0..UPDATES {
            let sender = format!("parent-{i:03}");
            store
                .update("default", |s| approve_directly(s, &sender))
                .await
                .unwrap();
        }
    });
    assert!(wait_bounded(&mut child), "the child failed");

    let snapshot = runtime()
        .block_on(FilePairingStore::new(dir.path()).load("default"))
        .unwrap();
    let approved: BTreeSet<&str> = snapshot.approved().collect();
    let expected: BTreeSet<String> = ["child", "parent"]
        .iter()
        .flat_map(|who| (0..UPDATES).map(move |i| format!("{who}-{i:03}")))
        .collect();
    assert_eq!(
        approved,
        expected.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
}

/// What the killed writer does: `pairing`, `cursor` or `dedupe` updates in a loop until killed.
fn write_until_killed(dir: &Path, kind: &str, start: &str) {
    runtime().block_on(async {
        let deadline = Instant::now() + CHILD_BOUND;
        let mut first = true;
        let mut i: u64 = 0;
        while Instant::now() < deadline {
            match kind {
                "pairing" => {
                    let store = FilePairingStore::new(dir);
                    let now = UnixMillis::new(1_767_607_200_000 + i as i64);
                    store
                        .update("default", |s| {
                            let n = s.approved().count();
                            approve_directly(s, &format!("w-{n:05}"));
                            // Refresh a pending request too, so both files are rewritten.
                            let sender =
                                Handle::normalize("+15550000000", &Region::new("US").unwrap())
                                    .unwrap();
                            s.request(&sender, Some(1), now, &mut ScriptedCodes::new(vec![3; 8]))
                                .unwrap();
                        })
                        .await
                        .unwrap();
                }
                "cursor" => {
                    let store = FileCursorStore::new(dir);
                    let base = store.load("default").await.unwrap().map_or(0, |c| c.rowid);
                    store
                        .save("default", Cursor::new(base + 1, i as i64))
                        .await
                        .unwrap();
                }
                "dedupe" => {
                    // One store for the child's life, as the gateway holds it.
                    let store = FileDedupeStore::with_capacity(dir, DEDUPE_CAPACITY);
                    loop {
                        store
                            .insert("default", &format!("k-{start}-{i:08}"))
                            .await
                            .unwrap();
                        if i == 0 {
                            println!("store-child-ready");
                        }
                        i += 1;
                        if Instant::now() > deadline {
                            return;
                        }
                    }
                }
                other => panic!("unknown kind {other}"),
            }
            if first {
                println!("store-child-ready");
                first = false;
            }
            i += 1;
        }
    });
}

/// Runs `rounds` writers of `kind`, each killed at a random instant, and calls `check` after each.
fn kill_writers(test: &str, kind: &str, rounds: u64, mut check: impl FnMut(&Path, u64)) {
    let dir = tempfile::tempdir().unwrap();
    let mut jitter = Jitter::new();
    for round in 0..rounds {
        let mut child = spawn_child(test, dir.path(), &format!("{kind}:{round:04}"));
        wait_ready(&mut child);
        std::thread::sleep(Duration::from_micros(jitter.below(30_000)));
        child.kill().unwrap();
        let _ = wait_bounded(&mut child);
        check(dir.path(), round);
    }
}

fn child_kind(arg: &str) -> (&str, &str) {
    arg.split_once(':').unwrap()
}

#[test]
fn a_pairing_writer_killed_at_any_instant_leaves_whole_files() {
    const TEST: &str = "a_pairing_writer_killed_at_any_instant_leaves_whole_files";
    if let Some((dir, arg)) = child_role(TEST) {
        let (kind, start) = child_kind(&arg);
        write_until_killed(&dir, kind, start);
        return;
    }
    let mut seen = 0;
    kill_writers(TEST, "pairing", 30, |dir, round| {
        let snapshot = runtime()
            .block_on(FilePairingStore::new(dir).load("default"))
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let approved: Vec<&str> = snapshot.approved().collect();
        let expected: Vec<String> = (0..approved.len()).map(|n| format!("w-{n:05}")).collect();
        assert_eq!(approved, expected, "round {round}: a whole old or new list");
        assert!(approved.len() >= seen, "round {round}: went back");
        assert!(
            approved.len() > seen,
            "round {round}: the ready update is kept"
        );
        seen = approved.len();
        assert_eq!(snapshot.requests().len(), 1, "round {round}");
    });
}

#[test]
fn a_cursor_writer_killed_at_any_instant_leaves_a_whole_file() {
    const TEST: &str = "a_cursor_writer_killed_at_any_instant_leaves_a_whole_file";
    if let Some((dir, arg)) = child_role(TEST) {
        let (kind, start) = child_kind(&arg);
        write_until_killed(&dir, kind, start);
        return;
    }
    let mut seen = 0;
    kill_writers(TEST, "cursor", 30, |dir, round| {
        let cursor = runtime()
            .block_on(FileCursorStore::new(dir).load("default"))
            .unwrap_or_else(|e| panic!("round {round}: {e}"))
            .unwrap();
        assert!(
            cursor.rowid > seen,
            "round {round}: {} after {seen}",
            cursor.rowid
        );
        seen = cursor.rowid;
    });
}

#[test]
fn a_dedupe_writer_killed_at_any_instant_keeps_every_whole_record() {
    const TEST: &str = "a_dedupe_writer_killed_at_any_instant_keeps_every_whole_record";
    if let Some((dir, arg)) = child_role(TEST) {
        let (kind, start) = child_kind(&arg);
        write_until_killed(&dir, kind, start);
        return;
    }
    kill_writers(TEST, "dedupe", 30, |dir, round| {
        let log = std::fs::read_to_string(dir.join("dedupe/default.log")).unwrap();
        let complete = &log[..log.rfind('\n').map_or(0, |i| i + 1)];
        let keys: Vec<(u64, u64)> = complete
            .lines()
            .map(|line| {
                let rest = line
                    .strip_prefix("k-")
                    .unwrap_or_else(|| panic!("round {round}: {line:?}"));
                let (start, i) = rest.split_once('-').unwrap();
                (start.parse().unwrap(), i.parse().unwrap())
            })
            .collect();
        assert!(!keys.is_empty(), "round {round}");
        assert!(
            keys.len() <= 2 * DEDUPE_CAPACITY + 1,
            "round {round}: {} lines",
            keys.len()
        );
        // Records are in write order, and this round's are a run with no gap.
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "round {round}: out of order"
        );
        let this_round: Vec<u64> = keys.iter().filter(|k| k.0 == round).map(|k| k.1).collect();
        assert!(
            this_round.windows(2).all(|w| w[1] == w[0] + 1),
            "round {round}: a record went missing"
        );
        let (last_start, last_i) = *keys.last().unwrap();
        assert_eq!(last_start, round, "round {round}: the ready record is kept");
        let store = FileDedupeStore::with_capacity(dir, DEDUPE_CAPACITY);
        let newest = format!("k-{last_start:04}-{last_i:08}");
        assert!(
            runtime()
                .block_on(store.contains("default", &newest))
                .unwrap(),
            "round {round}: {newest} after reload"
        );
    });
}
