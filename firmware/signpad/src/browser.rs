//! The kiosk browser on the signing screen (vendor 9.4, 9.5): a configured program (cog with its
//! DRM platform on the device) started in its own process group with the page's address; the
//! compositor hands it the display and takes the display back when the page is closed or the
//! program ends by itself. One browser at a time; a new page replaces the old one.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::Pad;

/// How long a program that ends at once counts as failing to start.
const START_GRACE: Duration = Duration::from_millis(1500);
/// How long `close` waits after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(3);

struct Running {
    pid: i32,
    url: String,
    /// Set by the waiter thread with the exit status once the program ended.
    ended: Arc<(Mutex<Option<String>>, Condvar)>,
    generation: u64,
}

pub struct Browser {
    /// The program and its arguments; `{url}`, `{width}`, `{height}` are replaced.
    command: Vec<String>,
    /// HOME and XDG_RUNTIME_DIR of the program (its caches and sockets).
    home: PathBuf,
    pad: Pad,
    running: Mutex<Option<Running>>,
    generation: Mutex<u64>,
}

/// Split a command line on white space, keeping "double quoted" words together.
pub fn split_command(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

fn wait_ended(ended: &(Mutex<Option<String>>, Condvar), timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    let mut g = ended.0.lock().unwrap_or_else(|e| e.into_inner());
    while g.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        g = ended
            .1
            .wait_timeout(g, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    g.clone()
}

/// SIGKILL what is left of the process group `pgid` and wait (at most `timeout`) until none of
/// it runs: a helper still holding the DRM device would keep us from becoming its master.
fn end_group(pgid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        // SAFETY: signals to the process group we created (its leader's id).
        if unsafe { libc::kill(-pgid, libc::SIGKILL) } != 0 {
            return true; // ESRCH: nothing left
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

impl Browser {
    pub fn new(command: Vec<String>, home: PathBuf, pad: Pad) -> Arc<Browser> {
        Arc::new(Browser {
            command,
            home,
            pad,
            running: Mutex::new(None),
            generation: Mutex::new(0),
        })
    }

    /// The page shown, if any.
    pub fn url(&self) -> Option<String> {
        self.lock().as_ref().map(|r| r.url.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Show `url` (already checked by the caller): the display is handed over and the program
    /// started. An error when it cannot start or ends at once; the display is then ours again.
    pub fn open(self: &Arc<Self>, url: &str) -> Result<(), String> {
        self.stop();
        let (w, h) = self.pad.size();
        let args: Vec<String> = self
            .command
            .iter()
            .map(|a| {
                a.replace("{url}", url)
                    .replace("{width}", &w.to_string())
                    .replace("{height}", &h.to_string())
            })
            .collect();
        let Some((prog, rest)) = args.split_first() else {
            let _ = self.pad.take_back();
            return Err("no browser command configured".into());
        };
        let run_dir = self.home.join("run");
        if let Err(e) = std::fs::create_dir_all(&run_dir) {
            let _ = self.pad.take_back();
            return Err(format!("{}: {e}", run_dir.display()));
        }
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o700));
        }
        self.pad
            .hand_over(&format!("网页 · web page\n{url}"))
            .map_err(|e| format!("{e:?}"))?;
        let mut cmd = Command::new(prog);
        cmd.args(rest)
            .env("HOME", &self.home)
            .env("XDG_RUNTIME_DIR", &run_dir)
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .env("XDG_DATA_HOME", self.home.join("data"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = self.pad.take_back();
                return Err(format!("{prog}: {e}"));
            }
        };
        let pid = child.id() as i32;
        tracing::info!(pid, url, program = %prog, "signing screen: browser started");
        for out in [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let _ = thread::Builder::new()
                .name("browser-log".into())
                .spawn(move || {
                    for line in BufReader::new(out).lines().map_while(Result::ok).take(2000) {
                        tracing::info!(pid, "browser: {line}");
                    }
                });
        }
        let ended: Arc<(Mutex<Option<String>>, Condvar)> = Arc::default();
        let generation = {
            let mut g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
            *g += 1;
            *g
        };
        *self.lock() = Some(Running {
            pid,
            url: url.to_string(),
            ended: ended.clone(),
            generation,
        });
        let me = Arc::downgrade(self);
        let e2 = ended.clone();
        let _ = thread::Builder::new()
            .name("browser-wait".into())
            .spawn(move || {
                let status = child
                    .wait()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string());
                *e2.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(status.clone());
                e2.1.notify_all();
                let Some(b) = me.upgrade() else { return };
                // Ended by itself (not closed): the display comes back to us.
                let mine = {
                    let mut r = b.lock();
                    if r.as_ref().is_some_and(|r| r.generation == generation) {
                        *r = None;
                        true
                    } else {
                        false
                    }
                };
                if mine {
                    tracing::warn!(pid, %status, "signing screen: the browser ended; the screen is ours again");
                    if !end_group(pid, TERM_GRACE) {
                        tracing::warn!(pid, "signing screen: the browser's helpers outlive it");
                    }
                    if let Err(e) = b.pad.take_back() {
                        tracing::error!("signing screen: taking the display back: {e:?}");
                    }
                }
            });
        if let Some(status) = wait_ended(&ended, START_GRACE) {
            // The waiter thread takes the display back too; the caller's answer must find it
            // ours already (take_back is a no-op the second time).
            if let Err(e) = self.pad.take_back() {
                tracing::error!("signing screen: taking the display back: {e:?}");
            }
            return Err(format!("{prog} ended at once ({status})"));
        }
        Ok(())
    }

    /// Close the page: SIGTERM to the program's process group, SIGKILL after a grace, then the
    /// display is ours again. Nothing shown: nothing to do.
    pub fn close(&self) -> bool {
        if !self.stop() {
            return false;
        }
        if let Err(e) = self.pad.take_back() {
            tracing::error!("signing screen: taking the display back: {e:?}");
        }
        true
    }

    /// End the program shown, if any (the display stays handed over).
    fn stop(&self) -> bool {
        let Some(r) = self.lock().take() else {
            return false;
        };
        // SAFETY: signals to the process group we created (its leader's id).
        unsafe { libc::kill(-r.pid, libc::SIGTERM) };
        if wait_ended(&r.ended, TERM_GRACE).is_none() {
            tracing::warn!(
                pid = r.pid,
                "signing screen: the browser ignored SIGTERM; killing it"
            );
            unsafe { libc::kill(-r.pid, libc::SIGKILL) };
            wait_ended(&r.ended, TERM_GRACE);
        }
        // Helpers the program left in its group.
        if !end_group(r.pid, TERM_GRACE) {
            tracing::warn!(
                pid = r.pid,
                "signing screen: the browser's helpers outlive it"
            );
        }
        tracing::info!(pid = r.pid, url = %r.url, "signing screen: browser closed");
        true
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen::VirtualScreen;

    #[test]
    fn words() {
        assert_eq!(
            split_command(r#"cog  --platform=drm "{url}" -O "a b""#),
            vec!["cog", "--platform=drm", "{url}", "-O", "a b"]
        );
        assert!(split_command("  ").is_empty());
        assert_eq!(split_command(r#"x """#), vec!["x", ""]);
    }

    fn pad() -> Pad {
        Pad::start(
            Box::new(VirtualScreen {
                width: 320,
                height: 200,
                hz: 60,
            }),
            None,
            "test",
        )
    }

    #[test]
    fn lifecycle() {
        let home = std::env::temp_dir().join(format!("signpad-browser-{}", std::process::id()));
        let p = pad();
        // A program that stays until killed: handed over, then back on close.
        let b = Browser::new(split_command("sleep 30 {url}"), home.clone(), p.clone());
        b.open("60").unwrap();
        assert!(p.is_handed_over());
        assert_eq!(b.url().as_deref(), Some("60"));
        assert!(b.close());
        assert!(!p.is_handed_over());
        assert!(!b.close(), "nothing left to close");
        // A program that ends at once: an error, the display ours again.
        let quick = Browser::new(split_command("false"), home.clone(), p.clone());
        assert!(quick.open("x").unwrap_err().contains("ended at once"));
        assert!(!p.is_handed_over());
        // A program that cannot start.
        let none = Browser::new(
            split_command("/nonexistent/browser"),
            home.clone(),
            p.clone(),
        );
        assert!(none.open("x").is_err());
        assert!(!p.is_handed_over());
        // One that ends by itself later: the display comes back without a close.
        let later = Browser::new(split_command("sleep 2"), home.clone(), p.clone());
        later.open("x").unwrap();
        assert!(p.is_handed_over());
        let t = Instant::now();
        while p.is_handed_over() {
            assert!(t.elapsed() < Duration::from_secs(10), "not taken back");
            thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(later.url(), None);
        let _ = std::fs::remove_dir_all(home);
    }
}
