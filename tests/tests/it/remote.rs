//! The remote Mac, for real: an `sshd` on 127.0.0.1 with its own host key, user key and config, the
//! simulator run through an SSH wrapper script as `cliPath`, attachments fetched and sent with the system
//! `scp` under `StrictHostKeyChecking=yes`.
//!
//! Where sshd cannot be started the test says so on stderr; under `CI=true` it fails instead of passing.

use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use imsg_channel::AttachmentKind;
use imsg_channel::attachments::{
    AttachmentConfig, AttachmentError, AttachmentStager, RefusalReason, RemoteSetting,
    TransferError,
};
use imsg_rpc::{Notification, SendParams, SendTarget, SubscribeParams};
use rusqlite::Connection;

use crate::fixture::{BOUND, IMSG, Session, options_for};

const SSHD: &str = "/usr/sbin/sshd";

/// A PNG header and a little more: what the sender "photographed".
const IMAGE: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR remote image bytes";

/// A running sshd in a temporary directory; killed and reaped on drop, whatever the test did.
struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    user: String,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sshd {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The known_hosts line for this server's throwaway host key.
    fn known_hosts_line(&self) -> String {
        let public = fs::read_to_string(self.path("host_key.pub")).unwrap();
        let mut fields = public.split_whitespace();
        let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
        format!("[127.0.0.1]:{} {kind} {key}\n", self.port)
    }
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Starts sshd with a config of its own; `Err` says why it could not.
fn start_sshd() -> Result<Sshd, String> {
    for tool in [
        SSHD,
        "/usr/bin/ssh-keygen",
        "/usr/bin/scp",
        "/usr/bin/sftp",
        "/usr/bin/ssh",
    ] {
        if !Path::new(tool).exists() {
            return Err(format!(
                "{tool} is missing (install openssh-server and openssh-client)"
            ));
        }
    }
    let user = run("id", &["-un"])?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let d = dir.path();
    for key in ["host_key", "user_key"] {
        let path = d.join(key);
        run(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-f",
                path.to_str().unwrap(),
            ],
        )?;
    }
    fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).map_err(|e| e.to_string())?;
    // Debian's sshd refuses to start without its privilege-separation directory, which the system
    // service would otherwise create at boot.
    if !Path::new("/run/sshd").exists() {
        fs::create_dir_all("/run/sshd").map_err(|e| format!("cannot create /run/sshd: {e}"))?;
    }
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        listener.local_addr().map_err(|e| e.to_string())?.port()
    };
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
         Subsystem sftp internal-sftp\nLogLevel VERBOSE\n",
        d = d.display()
    );
    fs::write(d.join("sshd_config"), config).map_err(|e| e.to_string())?;
    let log = fs::File::create(d.join("sshd.log")).map_err(|e| e.to_string())?;
    let child = Command::new(SSHD)
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start sshd: {e}"))?;
    let mut sshd = Sshd {
        child,
        port,
        dir,
        user,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = sshd.child.try_wait() {
            let log = fs::read_to_string(sshd.path("sshd.log")).unwrap_or_default();
            return Err(format!("sshd exited at once ({status}): {log}"));
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(sshd);
        }
        if Instant::now() > deadline {
            return Err("sshd did not listen within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// sshd, or a loud message: `None` outside CI (the test then stops), a failure under `CI=true`.
fn sshd_or_explain() -> Option<Sshd> {
    match start_sshd() {
        Ok(sshd) => Some(sshd),
        Err(why) => {
            let msg = format!(
                "\n!!! REMOTE ATTACHMENT TEST NOT RUN: sshd could not be started: {why}\n\
                 !!! (as root: apt-get install -y openssh-server openssh-client)\n"
            );
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
            eprintln!("{msg}");
            None
        }
    }
}

/// The "Mac": a home with Messages attachments and a chat.db, reached through a wrapper script.
struct Mac {
    home: PathBuf,
    db: PathBuf,
    attachments: PathBuf,
    wrapper: PathBuf,
    known_hosts: PathBuf,
    local_outbox: PathBuf,
    staging: PathBuf,
    _dir: tempfile::TempDir,
}

impl Mac {
    fn new(sshd: &Sshd) -> Mac {
        let dir = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(dir.path()).unwrap();
        let home = base.join("mac-home");
        let attachments = home.join("Library/Messages/Attachments");
        fs::create_dir_all(&attachments).unwrap();
        let db = home.join("chat.db");
        imsg_sim::db::init_schema(&db).unwrap();
        let known_hosts = base.join("known_hosts");
        fs::write(&known_hosts, sshd.known_hosts_line()).unwrap();
        let local_outbox = base.join("gateway-files");
        fs::create_dir_all(&local_outbox).unwrap();
        let wrapper = base.join("imsg-mac");
        // What a user writes: ssh to the Mac and run imsg there, with strict host keys.
        let script = format!(
            "#!/bin/sh\nexec ssh -T -o BatchMode=yes -o StrictHostKeyChecking=yes \
             -o UserKnownHostsFile={kh} -i {key} -p {port} {user}@127.0.0.1 \
             IMSG_SIM_POLL_MS=100 {imsg} \"$@\"\n",
            kh = known_hosts.display(),
            key = sshd.path("user_key").display(),
            port = sshd.port,
            user = sshd.user,
            imsg = IMSG,
        );
        fs::write(&wrapper, script).unwrap();
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
        Mac {
            home,
            db,
            attachments,
            wrapper,
            known_hosts,
            local_outbox,
            staging: base.join("state/attachments"),
            _dir: dir,
        }
    }

    /// The account configuration a user would write for this Mac.
    fn account(&self) -> imsg_config::ResolvedAccount {
        let text = format!(
            r#"{{ channels: {{ imessage: {{
                cliPath: "{cli}", dbPath: "{db}", includeAttachments: true, mediaMaxMb: 1,
                attachmentRoots: ["{outbox}"], remoteAttachmentRoots: ["{att}"],
                dmPolicy: "open", allowFrom: ["*"] }} }} }}"#,
            cli = self.wrapper.display(),
            db = self.db.display(),
            outbox = self.local_outbox.display(),
            att = self.attachments.display(),
        );
        let resolved =
            imsg_config::from_str(&text, &imsg_config::LoadOptions::new("remote.json5")).unwrap();
        resolved.accounts.into_iter().next().unwrap()
    }

    fn config(&self) -> AttachmentConfig {
        let mut config = AttachmentConfig::from_account(&self.account(), &self.staging).unwrap();
        config.remote_staging_dir = self.home.join("gateway-outbound").display().to_string();
        config.fetch_backoff = Duration::from_millis(200);
        config.transfer_timeout = BOUND;
        config
    }

    /// Writes a file where Messages keeps attachments.
    fn attachment_file(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.attachments.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
        path
    }
}

fn wire(path: &Path, name: &str, bytes: usize) -> imsg_rpc::Attachment {
    serde_json::from_value(serde_json::json!({
        "filename": path.display().to_string(), "transfer_name": name, "uti": "public.png",
        "mime_type": "image/png", "total_bytes": bytes, "is_sticker": false,
        "original_path": path.display().to_string(), "missing": false
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_comes_in_and_a_file_goes_out_through_a_real_sshd() {
    let Some(sshd) = sshd_or_explain() else {
        return;
    };
    let mac = Mac::new(&sshd);
    let account = mac.account();

    // imsg rpc through the wrapper, exactly as the channel spawns it.
    let mut options = options_for(&mac.db);
    options.cli_path = account.process.cli_path.as_path().to_path_buf();
    options.db_path = account.process.db_path.clone();
    let mut session = Session::start(options);
    session
        .subscribe(SubscribeParams {
            attachments: Some(true),
            ..SubscribeParams::default()
        })
        .await;

    let photo = mac.attachment_file("aa/01/G-IMG/IMG 0001.png", IMAGE);
    imsg_sim::db::inject(
        &mac.db,
        &imsg_sim::db::Message {
            handle: "+15551230001".into(),
            attachments: vec![imsg_sim::db::Attachment {
                filename: photo.display().to_string(),
                ..imsg_sim::db::Attachment::default()
            }],
            ..imsg_sim::db::Message::default()
        },
    )
    .unwrap();
    let event = match session.next().await {
        Notification::Message(event) => event,
        other => panic!("expected a message, got {other:?}"),
    };
    let chat_id = event.message.chat_id;
    let reported = &event.message.attachments;
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert!(!reported[0].missing);

    // The stager finds the Mac in the wrapper and fetches the photo with scp.
    let config = mac.config();
    assert_eq!(
        config.remote,
        RemoteSetting::DetectFrom(mac.wrapper.clone())
    );
    let stager = AttachmentStager::new(config).unwrap();
    let target = stager.remote().expect("the wrapper names the Mac");
    assert_eq!(target.host.to_string(), format!("{}@127.0.0.1", sshd.user));
    assert_eq!(target.port, Some(sshd.port));
    assert_eq!(
        target.known_hosts_file.as_deref(),
        Some(mac.known_hosts.as_path())
    );
    let staged = tokio::time::timeout(BOUND, stager.stage_inbound(reported))
        .await
        .unwrap();
    assert!(staged.refusals.is_empty(), "{:?}", staged.refusals);
    let file = &staged.files[0];
    assert_eq!(fs::read(&file.path).unwrap(), IMAGE);
    assert_eq!(file.kind, AttachmentKind::Image);
    assert_eq!(file.name, "IMG 0001.png");
    assert!(file.path.starts_with(stager.staging_dir()));
    assert_eq!(
        fs::metadata(&file.path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The answer goes back: scp into the remote staging directory, then `send` with that path.
    let reply = mac.local_outbox.join("answer.pdf");
    fs::write(&reply, b"%PDF-1.7 the answer").unwrap();
    let out = tokio::time::timeout(BOUND, stager.prepare_outbound(&reply))
        .await
        .unwrap()
        .unwrap();
    assert!(out.is_remote());
    let remote_copy = PathBuf::from(out.file_param());
    assert!(
        remote_copy.starts_with(mac.home.join("gateway-outbound")),
        "{remote_copy:?}"
    );
    assert_eq!(fs::read(&remote_copy).unwrap(), b"%PDF-1.7 the answer");
    let result = tokio::time::timeout(
        BOUND,
        session.client.send(&SendParams {
            target: SendTarget::ChatId(chat_id),
            text: None,
            file: Some(out.file_param().to_owned()),
            service: None,
            transport: None,
            region: None,
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(result.ok);
    let conn = Connection::open(&mac.db).unwrap();
    let (outgoing, name): (bool, String) = conn
        .query_row(
            "SELECT is_outgoing, transfer_name FROM attachment WHERE filename = ?1",
            [out.file_param()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("the simulator recorded no outgoing attachment for the staged path");
    assert!(outgoing);
    assert!(name.ends_with(".pdf"), "{name}");
    tokio::time::timeout(BOUND, out.release()).await.unwrap();
    assert!(
        !remote_copy.exists(),
        "the remote staged copy was not removed"
    );

    drop(staged);
    let _ = session.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_host_key_is_refused_with_the_fix() {
    let Some(sshd) = sshd_or_explain() else {
        return;
    };
    let mac = Mac::new(&sshd);
    let photo = mac.attachment_file("bb/02/G-X/p.png", IMAGE);
    let empty = mac.home.join("empty_known_hosts");
    fs::write(&empty, "").unwrap();
    let mut config = mac.config();
    config.ssh.known_hosts_file = Some(empty.clone());
    let stager = AttachmentStager::new(config).unwrap();
    let staged = tokio::time::timeout(
        BOUND,
        stager.stage_inbound(&[wire(&photo, "p.png", IMAGE.len())]),
    )
    .await
    .unwrap();
    assert!(staged.files.is_empty());
    let RefusalReason::Transfer(TransferError::UnknownHostKey { fix, .. }) =
        &staged.refusals[0].reason
    else {
        panic!("expected an unknown host key, got {:?}", staged.refusals);
    };
    assert_eq!(
        fix,
        &format!(
            "ssh-keyscan -H -p {} 127.0.0.1 >> {}",
            sshd.port,
            empty.display()
        )
    );
    assert_eq!(
        fs::read_to_string(&empty).unwrap(),
        "",
        "no key was accepted"
    );

    let reply = mac.local_outbox.join("r.txt");
    fs::write(&reply, b"reply").unwrap();
    match tokio::time::timeout(BOUND, stager.prepare_outbound(&reply))
        .await
        .unwrap()
    {
        Err(AttachmentError::Transfer(TransferError::UnknownHostKey { .. })) => {}
        other => panic!("expected an unknown host key, got {other:?}"),
    }
    let message = AttachmentError::Transfer(TransferError::UnknownHostKey {
        host: "h".into(),
        fix: fix.clone(),
    })
    .to_string();
    assert!(
        message.contains("ssh-keyscan") && message.contains("fingerprint"),
        "{message}"
    );

    // The wrapper with the same empty known_hosts cannot reach imsg either: nothing is accepted anywhere.
    let script = fs::read_to_string(&mac.wrapper).unwrap().replace(
        &mac.known_hosts.display().to_string(),
        &empty.display().to_string(),
    );
    let strict_wrapper = mac.home.join("imsg-mac-unknown");
    fs::write(&strict_wrapper, script).unwrap();
    fs::set_permissions(&strict_wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    let mut options = options_for(&mac.db);
    options.cli_path = strict_wrapper.clone();
    let (_child, client, _notifications) = imsg_rpc::spawn(options).unwrap();
    let answer = tokio::time::timeout(
        BOUND,
        client.chats_list(&imsg_rpc::ChatsListParams::default()),
    )
    .await
    .unwrap();
    assert!(
        answer.is_err(),
        "imsg answered through an unknown host key: {answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_files_still_arriving_are_retried_and_oversized_ones_stopped() {
    let Some(sshd) = sshd_or_explain() else {
        return;
    };
    let mac = Mac::new(&sshd);
    let stager = AttachmentStager::new(mac.config()).unwrap();

    // imsg already listed the file, but it lands on disk a moment later (openclaw/openclaw#135860).
    let late = mac.attachments.join("cc/03/G-L/late.png");
    fs::create_dir_all(late.parent().unwrap()).unwrap();
    let writer = {
        let late = late.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut f = fs::File::create(&late).unwrap();
            f.write_all(IMAGE).unwrap();
        })
    };
    let late_staged = tokio::time::timeout(
        BOUND,
        stager.stage_inbound(&[wire(&late, "late.png", IMAGE.len())]),
    )
    .await
    .unwrap();
    writer.await.unwrap();
    assert!(
        late_staged.refusals.is_empty(),
        "{:?}",
        late_staged.refusals
    );
    assert_eq!(fs::read(&late_staged.files[0].path).unwrap(), IMAGE);

    // imsg reports 0 bytes, the file is 2 MiB against a 1 MiB cap: stopped, nothing staged.
    let big = mac.attachment_file("dd/04/G-B/big.png", &vec![1u8; 2 * 1024 * 1024]);
    let staged = tokio::time::timeout(BOUND, stager.stage_inbound(&[wire(&big, "big.png", 0)]))
        .await
        .unwrap();
    assert!(
        matches!(
            staged.refusals[0].reason,
            RefusalReason::TooLarge { max: 1_048_576, .. }
        ),
        "{:?}",
        staged.refusals
    );

    // Outside the remote roots, or with a shell metacharacter: refused before any connection.
    let outside = mac.home.join("chat.db");
    let quote = mac.attachment_file("ee/05/G-Q/it's.png", IMAGE);
    let staged = stager
        .stage_inbound(&[wire(&outside, "chat.db", 0), wire(&quote, "it's.png", 0)])
        .await;
    assert_eq!(staged.refusals[0].reason, RefusalReason::OutsideRoots);
    assert_eq!(
        staged.refusals[1].reason,
        RefusalReason::UnsafeCharacter('\'')
    );
    let staging_files = fs::read_dir(stager.staging_dir().join("inbound"))
        .unwrap()
        .count();
    assert_eq!(staging_files, 1, "only the late photo is staged");
    drop(late_staged);
}
