//! Attachments on this machine: what is staged, what is refused and why, what may be sent, and the
//! cleanup, all against real files in temporary directories.
#![cfg(test)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use imsg_channel::AttachmentKind;
use imsg_channel::attachments::{
    AttachmentConfig, AttachmentError, AttachmentStager, RefusalReason, RemoteHost, RemoteSetting,
    RootPattern, parse_roots,
};
use serde_json::json;

/// A root directory of attachments, a directory outside it, and a staging area.
struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
    staging: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(dir.path()).unwrap();
        let root = base.join("Attachments");
        let outside = base.join("elsewhere");
        fs::create_dir_all(root.join("aa/10/G-1")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        Env {
            root,
            outside,
            staging: base.join("state/attachments"),
            _dir: dir,
        }
    }

    fn config(&self) -> AttachmentConfig {
        let mut config = AttachmentConfig::new(&self.staging);
        config.include = true;
        config.local_roots = parse_roots(&[self.root.to_str().unwrap()]).unwrap();
        config.fetch_backoff = Duration::from_millis(20);
        config
    }

    fn stager(&self) -> AttachmentStager {
        AttachmentStager::new(self.config()).unwrap()
    }

    fn file(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
        path
    }
}

/// An attachment as imsg reports it.
fn wire(path: &str, name: &str, mime: &str, bytes: i64) -> imsg_rpc::Attachment {
    serde_json::from_value(json!({
        "filename": path, "transfer_name": name, "uti": "", "mime_type": mime,
        "total_bytes": bytes, "is_sticker": false, "original_path": path, "missing": false
    }))
    .unwrap()
}

fn reason_for(stager: &AttachmentStager, attachment: imsg_rpc::Attachment) -> RefusalReason {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let staged = rt.block_on(stager.stage_inbound(&[attachment]));
    assert!(staged.files.is_empty(), "staged: {:?}", staged.files);
    assert_eq!(staged.refusals.len(), 1);
    staged.refusals[0].reason.clone()
}

#[tokio::test]
async fn an_image_inside_the_root_is_staged_privately_and_removed_after_use() {
    let env = Env::new();
    let source = env.file("aa/10/G-1/photo.jpg", b"\xff\xd8\xffjpeg bytes");
    let stager = env.stager();
    let staged = stager
        .stage_inbound(&[wire(
            source.to_str().unwrap(),
            "photo.jpg",
            "image/jpeg",
            13,
        )])
        .await;
    assert!(staged.refusals.is_empty(), "{:?}", staged.refusals);
    let file = &staged.files[0];
    assert_eq!(file.kind, AttachmentKind::Image);
    assert_eq!(file.mime_type, "image/jpeg");
    assert_eq!(file.name, "photo.jpg");
    assert_eq!(file.size, 13);
    assert_eq!(fs::read(&file.path).unwrap(), fs::read(&source).unwrap());
    assert!(file.path.starts_with(stager.staging_dir()));
    assert_ne!(
        file.path.file_name(),
        source.file_name(),
        "the staged name is random"
    );
    assert!(file.path.extension().is_some_and(|e| e == "jpg"));
    let mode = fs::metadata(&file.path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = fs::metadata(stager.staging_dir())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
    assert_eq!(staged.placeholder().as_deref(), Some("<media:image>"));
    let path = file.path.clone();
    staged.cleanup();
    assert!(!path.exists(), "the staged copy outlived its message");
    assert!(source.exists(), "the original is never touched");
}

#[test]
fn refusals_name_their_reason() {
    let env = Env::new();
    let stager = env.stager();
    let inside = env.file("aa/ok.jpg", b"data");
    let secret = env.outside.join("id_rsa");
    fs::write(&secret, b"PRIVATE KEY").unwrap();
    std::os::unix::fs::symlink(&secret, env.root.join("aa/link.jpg")).unwrap();
    std::os::unix::fs::symlink(&env.outside, env.root.join("dirlink")).unwrap();
    let root = env.root.display().to_string();
    let big = env.file("aa/big.bin", &[7; 2048]);
    let mut small = env.config();
    small.max_bytes = 1024;
    let small = AttachmentStager::new(small).unwrap();

    let cases: Vec<(imsg_rpc::Attachment, RefusalReason)> = vec![
        (
            wire(
                &format!("{root}/aa/../../elsewhere/id_rsa"),
                "x.jpg",
                "image/jpeg",
                0,
            ),
            RefusalReason::ParentComponent,
        ),
        (
            wire(&format!("{root}/aa/link.jpg"), "link.jpg", "image/jpeg", 0),
            RefusalReason::SymlinkEscape,
        ),
        (
            wire(&format!("{root}/dirlink/id_rsa"), "id_rsa", "", 0),
            RefusalReason::SymlinkEscape,
        ),
        (
            wire("Attachments/aa/ok.jpg", "ok.jpg", "image/jpeg", 0),
            RefusalReason::Relative,
        ),
        (
            wire(&format!("{root}/aa/ok\n.jpg"), "ok.jpg", "image/jpeg", 0),
            RefusalReason::ControlCharacter,
        ),
        (
            wire(secret.to_str().unwrap(), "id_rsa", "", 0),
            RefusalReason::OutsideRoots,
        ),
        (
            wire(&format!("{root}/aa/nothing.jpg"), "nothing.jpg", "", 0),
            RefusalReason::Missing,
        ),
        (
            wire(&format!("{root}/aa"), "aa", "", 0),
            RefusalReason::NotAFile,
        ),
        (
            wire(
                &format!("{root}/aa/X.pluginPayloadAttachment"),
                "X.pluginPayloadAttachment",
                "",
                0,
            ),
            RefusalReason::RichLinkPayload,
        ),
    ];
    for (attachment, want) in cases {
        let path = attachment.original_path.clone();
        assert_eq!(reason_for(&stager, attachment), want, "{path:?}");
    }
    let mut missing = wire(inside.to_str().unwrap(), "ok.jpg", "image/jpeg", 4);
    missing.missing = true;
    assert_eq!(reason_for(&stager, missing), RefusalReason::Missing);
    // Oversized: by imsg's declared size before any read, and by the real size when imsg says 0.
    let declared = wire(big.to_str().unwrap(), "big.bin", "", 2048);
    assert_eq!(
        reason_for(&small, declared),
        RefusalReason::TooLarge {
            size: 2048,
            max: 1024
        }
    );
    let undeclared = wire(big.to_str().unwrap(), "big.bin", "", 0);
    assert_eq!(
        reason_for(&small, undeclared),
        RefusalReason::TooLarge {
            size: 2048,
            max: 1024
        }
    );
    assert_eq!(
        fs::read_dir(env.staging.join("inbound")).unwrap().count(),
        0
    );
}

#[test]
fn a_root_of_slash_and_other_wide_roots_are_refused() {
    for bad in ["/", "/*", "/*/*", "relative", "/a/b*", "/a/**"] {
        assert!(RootPattern::parse(bad).is_err(), "{bad}");
    }
    // The configuration loader refuses it as well, so it never reaches the stager.
    let text = r#"{ channels: { imessage: { attachmentRoots: ["/"] } } }"#;
    let err = imsg_config::from_str(text, &imsg_config::LoadOptions::new("c.json5")).unwrap_err();
    assert!(err.to_string().contains("attachmentRoots"), "{err}");
}

#[test]
fn a_remote_host_starting_with_a_dash_is_refused() {
    for bad in ["-oProxyCommand=whoami", "bot@-mac", "-p22"] {
        assert!(RemoteHost::parse(bad).is_err(), "{bad}");
    }
    let text = r#"{ channels: { imessage: { remoteHost: "-oProxyCommand=whoami" } } }"#;
    let err = imsg_config::from_str(text, &imsg_config::LoadOptions::new("c.json5")).unwrap_err();
    assert!(err.to_string().contains("remoteHost"), "{err}");
}

#[tokio::test]
async fn a_wrapper_with_proxy_command_turns_ssh_attachments_off() {
    let env = Env::new();
    let wrapper = env.outside.join("imsg-remote");
    fs::write(
        &wrapper,
        "#!/bin/sh\nexec ssh -T -oProxyCommand='nc %h %p' bot@mac-mini imsg \"$@\"\n",
    )
    .unwrap();
    let mut config = env.config();
    config.remote = RemoteSetting::DetectFrom(wrapper);
    let stager = AttachmentStager::new(config).unwrap();
    assert!(stager.remote().is_none());
    assert!(stager.remote_refusal().unwrap().contains("proxycommand"));
    let path = "/Users/bot/Library/Messages/Attachments/aa/p.jpg";
    let staged = stager
        .stage_inbound(&[wire(path, "p.jpg", "image/jpeg", 3)])
        .await;
    assert_eq!(staged.refusals[0].reason, RefusalReason::UnsafeWrapper);
    let outbound = env.file("aa/out.jpg", b"out");
    match stager.prepare_outbound(&outbound).await {
        Err(AttachmentError::Refused(r)) => assert_eq!(r.reason, RefusalReason::UnsafeWrapper),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn outbound_files_come_only_from_the_roots_or_the_staging_area() {
    let env = Env::new();
    let stager = env.stager();
    let photo = env.file("aa/reply.png", b"png bytes");
    let out = stager.prepare_outbound(&photo).await.unwrap();
    assert!(!out.is_remote());
    let param = PathBuf::from(out.file_param());
    assert!(param.starts_with(stager.staging_dir()));
    assert_eq!(fs::read(&param).unwrap(), b"png bytes");
    out.release().await;
    assert!(!param.exists());

    // A file staged from an inbound message may be sent back.
    let staged = stager
        .stage_inbound(&[wire(photo.to_str().unwrap(), "reply.png", "image/png", 9)])
        .await;
    let back = stager
        .prepare_outbound(&staged.files[0].path)
        .await
        .unwrap();
    assert_eq!(fs::read(back.file_param()).unwrap(), b"png bytes");

    let key = env.outside.join("id_ed25519");
    fs::write(&key, b"PRIVATE").unwrap();
    std::os::unix::fs::symlink(&key, env.root.join("aa/innocent.png")).unwrap();
    let mut small = env.config();
    small.max_bytes = 4;
    let small = AttachmentStager::new(small).unwrap();
    let cases: Vec<(&AttachmentStager, PathBuf, RefusalReason)> = vec![
        (&stager, key.clone(), RefusalReason::OutsideRoots),
        (
            &stager,
            env.root.join("aa/innocent.png"),
            RefusalReason::SymlinkEscape,
        ),
        (
            &stager,
            PathBuf::from("aa/reply.png"),
            RefusalReason::Relative,
        ),
        (
            &stager,
            env.root.join("aa/../../elsewhere/id_ed25519"),
            RefusalReason::ParentComponent,
        ),
        (
            &stager,
            env.root.join("aa/new\nline.png"),
            RefusalReason::ControlCharacter,
        ),
        (
            &small,
            photo.clone(),
            RefusalReason::TooLarge { size: 9, max: 4 },
        ),
    ];
    for (stager, path, want) in cases {
        match stager.prepare_outbound(&path).await {
            Err(AttachmentError::Refused(r)) => assert_eq!(r.reason, want, "{path:?}"),
            other => panic!("{path:?}: expected {want:?}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_file_still_being_written_is_waited_for_within_a_bound() {
    let env = Env::new();
    let stager = env.stager();
    let path = env.file("aa/voice.caf", b"half");
    let writer = {
        let path = path.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
            f.write_all(b" and the rest").unwrap();
        })
    };
    let staged = stager
        .stage_inbound(&[wire(path.to_str().unwrap(), "voice.caf", "", 17)])
        .await;
    writer.await.unwrap();
    assert!(staged.refusals.is_empty(), "{:?}", staged.refusals);
    assert_eq!(staged.files[0].size, 17);
    assert_eq!(
        staged.files[0].kind,
        AttachmentKind::Audio,
        "MIME guessed from the extension"
    );

    // A file that never completes is refused after the bounded retries, not waited on forever.
    let stuck = env.file("aa/stuck.jpg", b"abc");
    let staged = stager
        .stage_inbound(&[wire(
            stuck.to_str().unwrap(),
            "stuck.jpg",
            "image/jpeg",
            100,
        )])
        .await;
    assert_eq!(
        staged.refusals[0].reason,
        RefusalReason::Incomplete { have: 3, want: 100 }
    );
}

#[tokio::test]
async fn a_root_reached_through_a_symlinked_directory_still_matches() {
    // Like `/tmp` → `/private/tmp` on macOS: the root is written through a symlink.
    let env = Env::new();
    let linked = env.outside.join("linked-root");
    std::os::unix::fs::symlink(&env.root, &linked).unwrap();
    let mut config = env.config();
    config.local_roots = parse_roots(&[linked.to_str().unwrap()]).unwrap();
    let stager = AttachmentStager::new(config).unwrap();
    env.file("aa/x.png", b"png");
    let via_link = linked.join("aa/x.png");
    let staged = stager
        .stage_inbound(&[wire(via_link.to_str().unwrap(), "x.png", "image/png", 3)])
        .await;
    assert!(staged.refusals.is_empty(), "{:?}", staged.refusals);
    assert!(stager.prepare_outbound(&via_link).await.is_ok());
    // Escaping the resolved root through a symlink is still refused.
    let secret = env.outside.join("secret.txt");
    fs::write(&secret, b"s").unwrap();
    std::os::unix::fs::symlink(&secret, env.root.join("aa/esc.png")).unwrap();
    let staged = stager
        .stage_inbound(&[wire(
            linked.join("aa/esc.png").to_str().unwrap(),
            "esc.png",
            "",
            1,
        )])
        .await;
    assert_eq!(staged.refusals[0].reason, RefusalReason::SymlinkEscape);
}

#[test]
fn the_sweep_removes_only_stale_staged_files() {
    let env = Env::new();
    let stager = env.stager();
    let inbound = stager.staging_dir().join("inbound");
    let old = inbound.join("att-old.jpg");
    let fresh = inbound.join("att-fresh.jpg");
    let foreign = inbound.join("notes.txt");
    for p in [&old, &fresh, &foreign] {
        fs::write(p, b"x").unwrap();
    }
    let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 3600);
    for p in [&old, &foreign] {
        fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
    }
    assert_eq!(stager.sweep(), 1);
    assert!(!old.exists());
    assert!(fresh.exists());
    assert!(foreign.exists(), "the sweep touches only files it staged");
}

#[test]
fn the_account_configuration_feeds_the_stager() {
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("imsg-mac");
    fs::write(
        &wrapper,
        "#!/bin/sh\nexec ssh -T -p 2222 bot@mac-mini imsg \"$@\"\n",
    )
    .unwrap();
    let text = format!(
        r#"{{ channels: {{ imessage: {{ includeAttachments: true, mediaMaxMb: 2,
            cliPath: "{}", attachmentRoots: ["/srv/att"], remoteAttachmentRoots: ["/Volumes/x/*/A"] }} }} }}"#,
        wrapper.display()
    );
    let resolved = imsg_config::from_str(&text, &imsg_config::LoadOptions::new("c.json5")).unwrap();
    let account = &resolved.accounts[0];
    let config = AttachmentConfig::from_account(account, dir.path().join("staging")).unwrap();
    assert!(config.include);
    assert_eq!(config.max_bytes, 2 * 1024 * 1024);
    let roots: Vec<String> = config.local_roots.iter().map(ToString::to_string).collect();
    assert_eq!(roots, ["/srv/att", imsg_config::DEFAULT_ATTACHMENT_ROOT]);
    assert!(
        config
            .remote_roots
            .iter()
            .any(|r| r.contains(Path::new("/Volumes/x/bob/A/f.jpg")))
    );
    assert_eq!(config.remote, RemoteSetting::DetectFrom(wrapper));
    let stager = AttachmentStager::new(config).unwrap();
    let target = stager.remote().unwrap();
    assert_eq!(target.host.to_string(), "bot@mac-mini");
    assert_eq!(target.port, Some(2222));

    // A Windows drive root is valid in the shared format but cannot apply here: skipped, not fatal.
    let text =
        r#"{ channels: { imessage: { attachmentRoots: ["C:/Users/x/Attachments", "/srv/a"] } } }"#;
    let resolved = imsg_config::from_str(text, &imsg_config::LoadOptions::new("c.json5")).unwrap();
    let config = AttachmentConfig::from_account(&resolved.accounts[0], dir.path()).unwrap();
    let roots: Vec<String> = config.local_roots.iter().map(ToString::to_string).collect();
    assert_eq!(roots, ["/srv/a", imsg_config::DEFAULT_ATTACHMENT_ROOT]);

    // An explicit remoteHost wins over the wrapper.
    let text = r#"{ channels: { imessage: { remoteHost: "me@studio", cliPath: "/x/imsg-mac" } } }"#;
    let resolved = imsg_config::from_str(text, &imsg_config::LoadOptions::new("c.json5")).unwrap();
    let config = AttachmentConfig::from_account(&resolved.accounts[0], dir.path()).unwrap();
    match &config.remote {
        RemoteSetting::Host(t) => assert_eq!(t.host.to_string(), "me@studio"),
        other => panic!("{other:?}"),
    }
}

/// A log sink for one test.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn refusals_are_logged_at_info_with_the_name_but_never_the_path() {
    let env = Env::new();
    let stager = env.stager();
    let secret = env.outside.join("private-dir-name").join("tax-return.pdf");
    fs::create_dir_all(secret.parent().unwrap()).unwrap();
    fs::write(&secret, b"%PDF").unwrap();
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        reason_for(
            &stager,
            wire(secret.to_str().unwrap(), "tax-return.pdf", "", 4),
        );
    });
    let log = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("attachment refused"), "{log}");
    assert!(log.contains("tax-return.pdf"), "{log}");
    assert!(log.contains("outside the attachment roots"), "{log}");
    assert!(
        !log.contains("private-dir-name"),
        "the full path leaked at info: {log}"
    );
}
