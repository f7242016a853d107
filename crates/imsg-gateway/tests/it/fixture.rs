//! Shared helpers: a temp world with config, state dir and an `imsg` that is this very binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_imsg-gateway");

/// Every process a test starts must end within this bound.
pub(crate) const BOUND: Duration = Duration::from_secs(60);

/// A temporary directory with a config, a state dir and an `imsg` link to the binary.
pub(crate) struct World {
    pub(crate) dir: tempfile::TempDir,
}

impl World {
    pub(crate) fn new() -> World {
        World {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn state(&self) -> PathBuf {
        self.path("state")
    }

    pub(crate) fn config(&self) -> PathBuf {
        self.path("config.json5")
    }

    /// Writes the config file.
    pub(crate) fn write_config(&self, text: &str) -> PathBuf {
        std::fs::write(self.config(), text).unwrap();
        self.config()
    }

    /// A symlink named `imsg` to the binary (the embedded simulator) and an initialised chat.db.
    pub(crate) fn sim(&self) -> (PathBuf, PathBuf) {
        let bin = self.path("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let imsg = bin.join("imsg");
        if !imsg.exists() {
            std::os::unix::fs::symlink(BIN, &imsg).unwrap();
        }
        let db = self.path("chat.db");
        imsg_sim::db::init_schema(&db).unwrap();
        (imsg, db)
    }

    /// An executable shell script.
    pub(crate) fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let path = self.path(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Runs the binary with `--config` and `--state-dir` of this world.
    pub(crate) fn run(&self, args: &[&str]) -> Out {
        let mut full: Vec<String> = vec![
            "--config".into(),
            self.config().display().to_string(),
            "--state-dir".into(),
            self.state().display().to_string(),
        ];
        full.extend(args.iter().map(|s| (*s).to_owned()));
        run_bin(&full, &[])
    }
}

/// What a run of the binary produced.
#[derive(Debug)]
pub(crate) struct Out {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Out {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs the binary with `args` and extra environment, within [`BOUND`].
pub(crate) fn run_bin(args: &[String], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("IMSG_GATEWAY_CONFIG")
        .env_remove("IMSG_GATEWAY_STATE_DIR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    wait_bounded(child)
}

/// Waits for `child` within [`BOUND`], killing it when the bound passes.
pub(crate) fn wait_bounded(mut child: std::process::Child) -> Out {
    let deadline = Instant::now() + BOUND;
    // Read both pipes on threads so a chatty child cannot block on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the binary did not exit within {BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = Output {
        status,
        stdout: out.join().unwrap().into_bytes(),
        stderr: err.join().unwrap().into_bytes(),
    };
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A config with one account on `cli` and `db`.
pub(crate) fn config_for(cli: &Path, db: &Path, extra: &str) -> String {
    format!(
        "{{\n  channels: {{\n    imessage: {{\n      cliPath: {},\n      dbPath: {},\n{extra}\n    }},\n  }},\n}}\n",
        serde_json::Value::String(cli.display().to_string()),
        serde_json::Value::String(db.display().to_string()),
    )
}
