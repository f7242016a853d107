//! The file-backed stores in one process: round trips, OpenClaw files written by hand, modes,
//! corrupt files, locks, and concurrent updates from two store instances.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on a broken setup")]

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use imsg_channel::store::{
    Cursor, CursorStore, DedupeStore, FileCursorStore, FileDedupeStore, FilePairingStore,
    StoreError,
};
use imsg_policy::{PairOutcome, PairingSnapshot, PairingStore, ScriptedCodes, UnixMillis};
use imsg_target::{Handle, Region};
use serde_json::{Value, json};

/// 2026-01-05T10:00:00.000Z.
const T0: i64 = 1_767_607_200_000;

fn handle(raw: &str) -> Handle {
    Handle::normalize(raw, &Region::new("US").unwrap()).unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// An update that approves `sender` directly, as `pairing approve` ends up doing.
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

#[tokio::test]
async fn pairing_round_trip_writes_the_openclaw_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let store = FilePairingStore::new(dir.path());
    let empty = store.load("default").await.unwrap();
    assert_eq!(empty.requests(), &[]);
    assert_eq!(empty.approved().count(), 0);

    let now = UnixMillis::new(T0);
    let outcome = store
        .update("default", |s| {
            s.request(
                &handle("+1 (555) 000-1111"),
                Some(77),
                now,
                &mut ScriptedCodes::new(vec![0; 8]),
            )
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        outcome,
        PairOutcome::Created {
            code: "AAAAAAAA".into()
        }
    );

    let pairing_path = dir.path().join("credentials/imessage-pairing.json");
    let text = fs::read_to_string(&pairing_path).unwrap();
    assert!(
        text.starts_with("{\n  \"version\": 1,\n  \"requests\": ["),
        "{text}"
    );
    assert!(text.ends_with("}\n"), "{text:?}");
    assert_eq!(
        read_json(&pairing_path),
        json!({"version": 1, "requests": [{
            "id": "+15550001111",
            "code": "AAAAAAAA",
            "createdAt": "2026-01-05T10:00:00.000Z",
            "lastSeenAt": "2026-01-05T10:00:00.000Z",
            "meta": {"sender": "+15550001111", "chatId": "77"}
        }]})
    );
    // Only the requests changed, so the allowFrom file was not written.
    assert!(
        !dir.path()
            .join("credentials/imessage-allowFrom.json")
            .exists()
    );

    let loaded = store.load("default").await.unwrap();
    assert_eq!(loaded.requests().len(), 1);
    assert_eq!(loaded.requests()[0].chat_id, Some(77));
    assert_eq!(loaded.requests()[0].created_at, now);

    let later = now.add_millis(60_000);
    let sender = store
        .update("default", |s| s.approve(" aaaaaaaa ", later))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sender, "+15550001111");
    assert_eq!(
        read_json(&dir.path().join("credentials/imessage-allowFrom.json")),
        json!({"version": 1, "allowFrom": ["+15550001111"]})
    );
    assert_eq!(
        read_json(&pairing_path),
        json!({"version": 1, "requests": []})
    );
    let loaded = store.load("default").await.unwrap();
    assert!(loaded.is_approved("+15550001111"));
    assert_eq!(loaded.requests(), &[]);
}

#[tokio::test]
async fn a_migrating_users_openclaw_files_are_read_and_their_extras_kept() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    fs::create_dir_all(&creds).unwrap();
    // As OpenClaw leaves them, plus keys a newer OpenClaw might add.
    fs::write(
        creds.join("imessage-allowFrom.json"),
        "{\n  \"version\": 1,\n  \"allowFrom\": [\n    \" +15551230000 \",\n    \"*\",\n    \"\",\n    \"friend@example.com\"\n  ],\n  \"note\": \"kept\"\n}\n",
    )
    .unwrap();
    let pairing = r#"{
  "version": 1,
  "requests": [
    {
      "id": "+15550002222",
      "code": "ZXCV2345",
      "createdAt": "2026-01-05T09:30:00.000Z",
      "lastSeenAt": "2026-01-05T09:45:12.500Z",
      "meta": { "sender": "+15550002222", "chatId": "12", "label": "Bob" },
      "origin": "sms"
    },
    {
      "id": "old@example.com",
      "code": "OLDCODE2",
      "createdAt": "not a date",
      "lastSeenAt": "2026-01-05T09:00:00.000Z"
    }
  ],
  "futureKey": [1, 2]
}
"#;
    fs::write(creds.join("imessage-pairing.json"), pairing).unwrap();

    let store = FilePairingStore::new(dir.path());
    let snapshot = store.load("default").await.unwrap();
    let approved: Vec<&str> = snapshot.approved().collect();
    assert_eq!(approved, ["+15551230000", "friend@example.com"]);
    assert_eq!(snapshot.requests().len(), 2);
    let bob = &snapshot.requests()[0];
    assert_eq!(bob.sender_id, "+15550002222");
    assert_eq!(bob.code, "ZXCV2345");
    assert_eq!(bob.chat_id, Some(12));
    assert_eq!(bob.created_at, UnixMillis::new(T0 - 30 * 60_000));
    assert_eq!(bob.last_seen_at, UnixMillis::new(T0 - 14 * 60_000 - 47_500));
    // An unreadable creation time counts as expired, as in OpenClaw.
    assert!(snapshot.requests()[1].is_expired(UnixMillis::new(T0)));
    assert_eq!(snapshot.live_requests(UnixMillis::new(T0)).len(), 1);

    // A change to the approvals only rewrites allowFrom; its extra key survives.
    store
        .update("default", |s| approve_directly(s, "+15559990000"))
        .await
        .unwrap();
    assert_eq!(
        read_json(&creds.join("imessage-allowFrom.json")),
        json!({"version": 1, "allowFrom": ["+15551230000", "friend@example.com", "+15559990000"], "note": "kept"})
    );
    assert_eq!(
        fs::read_to_string(creds.join("imessage-pairing.json")).unwrap(),
        pairing
    );

    // A refresh of Bob rewrites the requests: the expired one is pruned, Bob's unknown keys and
    // unchanged creation time are kept verbatim.
    let now = UnixMillis::new(T0);
    store
        .update("default", |s| {
            s.request(
                &handle("+15550002222"),
                None,
                now,
                &mut ScriptedCodes::new(vec![1; 8]),
            )
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        read_json(&creds.join("imessage-pairing.json")),
        json!({"version": 1, "requests": [{
            "id": "+15550002222",
            "code": "ZXCV2345",
            "createdAt": "2026-01-05T09:30:00.000Z",
            "lastSeenAt": "2026-01-05T10:00:00.000Z",
            "meta": {"sender": "+15550002222", "chatId": "12", "label": "Bob"},
            "origin": "sms"
        }], "futureKey": [1, 2]})
    );
}

#[tokio::test]
async fn each_account_has_its_own_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = FilePairingStore::new(dir.path());
    store
        .update("work", |s| approve_directly(s, "+15550000001"))
        .await
        .unwrap();
    let creds = dir.path().join("credentials");
    assert!(creds.join("imessage-work-allowFrom.json").exists());
    assert!(!creds.join("imessage-allowFrom.json").exists());
    assert!(
        store
            .load("work")
            .await
            .unwrap()
            .is_approved("+15550000001")
    );
    assert!(
        !store
            .load("default")
            .await
            .unwrap()
            .is_approved("+15550000001")
    );
    assert!(matches!(
        store.load("../escape").await,
        Err(StoreError::InvalidAccount { .. })
    ));
}

#[tokio::test]
async fn directories_are_0700_and_files_0600_whatever_the_umask() {
    // A wide-open umask: the modes must come from the stores, not from it.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    FilePairingStore::new(&state)
        .update("default", |s| approve_directly(s, "+15550000001"))
        .await
        .unwrap();
    FileCursorStore::new(&state)
        .save("default", Cursor::new(5, T0))
        .await
        .unwrap();
    let dedupe = FileDedupeStore::new(&state);
    dedupe.insert("default", "guid:1").await.unwrap();
    for d in ["", "credentials", "cursor", "dedupe"] {
        assert_eq!(mode(&state.join(d)), 0o700, "{d}");
    }
    for f in [
        "credentials/imessage-allowFrom.json",
        "credentials/imessage-pairing.lock",
        "cursor/default.json",
        "dedupe/default.log",
        "dedupe/default.lock",
    ] {
        assert_eq!(mode(&state.join(f)), 0o600, "{f}");
    }
}

#[tokio::test]
async fn a_corrupt_pairing_file_is_an_error_naming_it_and_is_never_overwritten() {
    for (name, bad) in [
        (
            "imessage-pairing.json",
            "{\"version\":1,\"requests\":[{\"id\":",
        ),
        ("imessage-pairing.json", ""),
        ("imessage-pairing.json", "{\"version\":2,\"requests\":[]}"),
        ("imessage-allowFrom.json", "[\"+15550000001\"]"),
        (
            "imessage-allowFrom.json",
            "{\"version\":1,\"allowFrom\":[{\"id\":1}]}",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        fs::create_dir_all(&creds).unwrap();
        let path = creds.join(name);
        fs::write(&path, bad).unwrap();
        let store = FilePairingStore::new(dir.path());

        // The load a pairing-dependent DM needs fails, so the channel can fail closed.
        let err = store.load("default").await.unwrap_err();
        match &err {
            StoreError::Corrupt { path: p, .. } => assert_eq!(p, &path, "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );

        let ran = store
            .update("default", |s| approve_directly(s, "+15550000009"))
            .await;
        assert!(
            matches!(ran, Err(StoreError::Corrupt { .. })),
            "{bad}: {ran:?}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), bad);
        let other = if name == "imessage-pairing.json" {
            "imessage-allowFrom.json"
        } else {
            "imessage-pairing.json"
        };
        assert!(!creds.join(other).exists(), "{bad}: nothing written");
    }
}

#[tokio::test]
async fn a_held_lock_is_waited_for_then_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = FilePairingStore::new(dir.path()).with_lock_timeout(Duration::from_millis(150));
    let lock_path = store.lock_path("default").unwrap();
    fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    let holder = fs::File::create(&lock_path).unwrap();
    holder.lock().unwrap();

    let err = store
        .update("default", |s| approve_directly(s, "+15550000001"))
        .await
        .unwrap_err();
    match &err {
        StoreError::LockTimeout { path, waited } => {
            assert_eq!(path, &lock_path);
            assert!(*waited >= Duration::from_millis(150));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("imessage-pairing.lock"), "{err}");
    // Reading needs no lock.
    assert_eq!(store.load("default").await.unwrap().approved().count(), 0);

    holder.unlock().unwrap();
    store
        .update("default", |s| approve_directly(s, "+15550000001"))
        .await
        .unwrap();
    assert!(
        store
            .load("default")
            .await
            .unwrap()
            .is_approved("+15550000001")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_store_instances_updating_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    const N: usize = 40;
    let mut tasks = Vec::new();
    for who in ["a", "b"] {
        let store = FilePairingStore::new(dir.path());
        tasks.push(tokio::spawn(async move {
            for i in 0..N {
                let sender = format!("{who}-{i:03}");
                store
                    .update("default", |s| approve_directly(s, &sender))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .unwrap()
            .unwrap();
    }
    let approved: BTreeSet<String> = FilePairingStore::new(dir.path())
        .load("default")
        .await
        .unwrap()
        .approved()
        .map(str::to_owned)
        .collect();
    let expected: BTreeSet<String> = ["a", "b"]
        .iter()
        .flat_map(|who| (0..N).map(move |i| format!("{who}-{i:03}")))
        .collect();
    assert_eq!(approved, expected);
}

#[test]
fn without_a_runtime_the_stores_run_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileCursorStore::new(dir.path());
    let mut cx = Context::from_waker(Waker::noop());
    let save = pin!(store.save("default", Cursor::new(3, T0)));
    assert!(matches!(save.poll(&mut cx), Poll::Ready(Ok(()))));
    let load = pin!(store.load("default"));
    match load.poll(&mut cx) {
        Poll::Ready(Ok(Some(cursor))) => assert_eq!(cursor, Cursor::new(3, T0)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_cursor_round_trips_per_account() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileCursorStore::new(dir.path());
    assert_eq!(store.load("default").await.unwrap(), None);
    store.save("default", Cursor::new(41, T0)).await.unwrap();
    store
        .save("default", Cursor::new(42, T0 + 1))
        .await
        .unwrap();
    store.save("work", Cursor::new(7, T0)).await.unwrap();
    let reopened = FileCursorStore::new(dir.path());
    assert_eq!(
        reopened.load("default").await.unwrap(),
        Some(Cursor::new(42, T0 + 1))
    );
    assert_eq!(
        reopened.load("work").await.unwrap(),
        Some(Cursor::new(7, T0))
    );
    assert_eq!(
        read_json(&dir.path().join("cursor/default.json")),
        json!({"version": 1, "rowid": 42, "updatedAtMs": T0 + 1})
    );
    // No temporary file is left behind by a save that finished.
    let names: Vec<_> = fs::read_dir(dir.path().join("cursor"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[tokio::test]
async fn a_corrupt_cursor_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileCursorStore::new(dir.path());
    let path = store.path("default").unwrap();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, "{\"rowid\": \"twelve\"}").unwrap();
    match store.load("default").await {
        Err(StoreError::Corrupt { path: p, .. }) => assert_eq!(p, path),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn dedupe_keys_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = FileDedupeStore::new(dir.path());
        assert!(!store.contains("default", "guid:A").await.unwrap());
        store.insert("default", "guid:A").await.unwrap();
        store.insert("default", "guid:A").await.unwrap();
        store.insert("default", "rowid:12").await.unwrap();
        store.insert("default", "guid:odd\nkey\\").await.unwrap();
        store.insert("work", "guid:B").await.unwrap();
        assert!(store.contains("default", "guid:A").await.unwrap());
    }
    let log = fs::read_to_string(dir.path().join("dedupe/default.log")).unwrap();
    assert_eq!(log, "guid:A\nrowid:12\nguid:odd\\nkey\\\\\n");
    let store = FileDedupeStore::new(dir.path());
    for key in ["guid:A", "rowid:12", "guid:odd\nkey\\"] {
        assert!(store.contains("default", key).await.unwrap(), "{key:?}");
    }
    assert!(!store.contains("default", "guid:B").await.unwrap());
    assert!(store.contains("work", "guid:B").await.unwrap());
}

#[tokio::test]
async fn the_dedupe_log_is_compacted_to_the_newest_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedupe/default.log");
    {
        let store = FileDedupeStore::with_capacity(dir.path(), 3);
        for i in 0..20 {
            store.insert("default", &format!("k{i}")).await.unwrap();
            let lines = fs::read_to_string(&path).unwrap().lines().count();
            assert!(lines <= 6, "after k{i}: {lines} lines");
        }
        assert!(!store.contains("default", "k16").await.unwrap());
        assert!(store.contains("default", "k17").await.unwrap());
    }
    let store = FileDedupeStore::with_capacity(dir.path(), 3);
    for i in 0..17 {
        assert!(
            !store.contains("default", &format!("k{i}")).await.unwrap(),
            "k{i}"
        );
    }
    for i in 17..20 {
        assert!(
            store.contains("default", &format!("k{i}")).await.unwrap(),
            "k{i}"
        );
    }
}

#[tokio::test]
async fn a_torn_last_dedupe_line_is_ignored_and_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedupe/default.log");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, "guid:a\nguid:b\nguid:hal").unwrap();
    let store = FileDedupeStore::new(dir.path());
    assert!(store.contains("default", "guid:a").await.unwrap());
    assert!(store.contains("default", "guid:b").await.unwrap());
    assert!(!store.contains("default", "guid:hal").await.unwrap());
    store.insert("default", "guid:c").await.unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "guid:a\nguid:b\nguid:c\n"
    );
}

#[tokio::test]
async fn a_second_dedupe_store_on_an_account_in_use_waits_then_fails() {
    let dir = tempfile::tempdir().unwrap();
    let first = FileDedupeStore::new(dir.path());
    first.insert("default", "guid:1").await.unwrap();
    let second = FileDedupeStore::new(dir.path()).with_lock_timeout(Duration::from_millis(100));
    match second.contains("default", "guid:1").await {
        Err(StoreError::LockTimeout { path, .. }) => {
            assert_eq!(path, dir.path().join("dedupe/default.lock"));
        }
        other => panic!("{other:?}"),
    }
    // Another account is free, and the account is free once the first store is gone.
    second.insert("work", "guid:2").await.unwrap();
    drop(first);
    assert!(second.contains("default", "guid:1").await.unwrap());
}
