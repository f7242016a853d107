//! `service print launchd|systemd`: service files for this binary and config.
//!
//! launchd gets a LaunchAgent, never a LaunchDaemon: Messages.app and the Full Disk Access grant
//! live in the user's GUI session, which a daemon does not have. systemd gets a user unit that
//! does not restart on a bad config (exit 78) and stops the `imsg` children with the gateway.

use std::path::Path;

use crate::cli::ServiceKind;
use crate::commands::Globals;
use crate::exit::{Failure, OK};
use crate::{output, paths};

/// The LaunchAgent label.
pub const LAUNCHD_LABEL: &str = "dev.imsg-gateway.gateway";

/// Escapes text for an XML string.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Quotes one argument for a systemd `ExecStart=` line.
fn systemd_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@".contains(c))
    {
        return arg.to_owned();
    }
    let escaped = arg
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
        .replace('$', "$$");
    format!("\"{escaped}\"")
}

/// The arguments of `run` for this config and state dir.
fn run_args(binary: &Path, config: &Path, state: &Path) -> Vec<String> {
    vec![
        binary.display().to_string(),
        "--config".into(),
        config.display().to_string(),
        "--state-dir".into(),
        state.display().to_string(),
        "--log-format".into(),
        "json".into(),
        "run".into(),
    ]
}

/// The LaunchAgent plist.
pub fn launchd(binary: &Path, config: &Path, state: &Path) -> String {
    let args: String = run_args(binary, config, state)
        .iter()
        .map(|a| format!("    <string>{}</string>\n", xml(a)))
        .collect();
    let log = state.join("logs").join("gateway.log");
    let log = xml(&log.display().to_string());
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- A LaunchAgent (not a LaunchDaemon): imsg needs the GUI session and its Full Disk Access grant.
     Save as ~/Library/LaunchAgents/{LAUNCHD_LABEL}.plist, then:
       launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/{LAUNCHD_LABEL}.plist
     Grant Full Disk Access to the binary below (and to imsg). -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>{LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
{args}  </array>
  <key>LimitLoadToSessionType</key>
  <string>Aqua</string>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ThrottleInterval</key>
  <integer>10</integer>
  <key>ProcessType</key>
  <string>Interactive</string>
  <key>StandardOutPath</key>
  <string>{log}</string>
  <key>StandardErrorPath</key>
  <string>{log}</string>
</dict>
</plist>
"#
    )
}

/// The systemd user unit.
pub fn systemd(binary: &Path, config: &Path, state: &Path) -> String {
    let exec: Vec<String> = run_args(binary, config, state)
        .iter()
        .map(|a| systemd_quote(a))
        .collect();
    format!(
        "# A systemd user unit. Save as ~/.config/systemd/user/imsg-gateway.service, then:\n\
         #   systemctl --user daemon-reload && systemctl --user enable --now imsg-gateway\n\
         # On a headless host also run: loginctl enable-linger $USER\n\
         [Unit]\n\
         Description=imsg-gateway: iMessage channels for an agent\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={}\n\
         ExecReload=/bin/kill -HUP $MAINPID\n\
         Restart=always\n\
         RestartSec=5\n\
         # Exit 78 is a bad config: restarting cannot fix it.\n\
         RestartPreventExitStatus=78\n\
         # SIGTERM to the gateway first, so it drains and stops its imsg children itself.\n\
         KillMode=mixed\n\
         TimeoutStopSec=30\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        exec.join(" ")
    )
}

/// An absolute form of `path` (relative to the current directory), without resolving links.
fn absolute(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `service print`.
///
/// # Errors
///
/// Exit 1 when the path of this binary is unknown.
pub fn print(globals: &Globals, kind: ServiceKind) -> Result<u8, Failure> {
    let binary = std::env::current_exe()
        .map_err(|e| Failure::other(format!("cannot find this binary's path: {e}")))?;
    let (config, _) = paths::config_path(globals.config.as_deref())?;
    let state = paths::state_dir(globals.state_dir.as_deref())?;
    let (config, state) = (absolute(&config), absolute(&state));
    let text = match kind {
        ServiceKind::Launchd => launchd(&binary, &config, &state),
        ServiceKind::Systemd => systemd(&binary, &config, &state),
    };
    output::line(text.trim_end())?;
    Ok(OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_quotes_only_what_needs_it() {
        assert_eq!(systemd_quote("/usr/bin/x"), "/usr/bin/x");
        assert_eq!(systemd_quote("/a b/%x"), "\"/a b/%%x\"");
    }

    #[test]
    fn the_plist_escapes_paths() {
        let text = launchd(Path::new("/bin/a&b"), Path::new("/c"), Path::new("/s"));
        assert!(text.contains("<string>/bin/a&amp;b</string>"));
        assert!(!text.contains("LaunchDaemons"));
    }
}
