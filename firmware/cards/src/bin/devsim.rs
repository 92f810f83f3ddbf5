//! Simulated devices speaking the real protocols, for tests and demonstrations.
//!
//! `devsim sam [--card NAME|none] [--no-finger-command]` starts a simulated SAM ID card module on
//! a new pseudo-terminal and prints `PORT <path>` on stdout. It then takes commands on stdin, one
//! per line, answering `ok` (or `error ...`) to each:
//!   card resident|resident-finger|permit|foreign|none
//!   fault none|garble|silent|checksum-once|read-fails|removed-after-find|slow <ms>
//!   finger-command on|off
//!   quit
//! It ends at `quit` or when stdin closes.

use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cards::sim::{sample, Fault, SimSam};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("sam") {
        eprintln!("usage: devsim sam [--card NAME|none] [--no-finger-command]");
        std::process::exit(2);
    }
    let mut sim = SimSam::default();
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--card" if i + 1 < args.len() => {
                sim.card = if args[i + 1] == "none" {
                    None
                } else {
                    sample(&args[i + 1])
                };
                i += 1;
            }
            "--no-finger-command" => sim.finger_support = false,
            other => {
                eprintln!("devsim: unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    let state = Arc::new(Mutex::new(sim));
    let path = match cards::sim::start(state.clone()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("devsim: no pseudo-terminal: {e}");
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "PORT {path}");
    let _ = out.flush();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = {
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            match words.as_slice() {
                ["quit"] => break,
                ["card", "none"] => {
                    s.card = None;
                    Ok(())
                }
                ["card", name] => sample(name).map(|c| s.card = Some(c)).ok_or("unknown card"),
                ["finger-command", v] => {
                    s.finger_support = *v == "on";
                    Ok(())
                }
                ["fault", "slow", ms] => ms
                    .parse::<u64>()
                    .map(|ms| s.fault = Fault::Slow(Duration::from_millis(ms)))
                    .map_err(|_| "bad milliseconds"),
                ["fault", f] => {
                    let f = match *f {
                        "none" => Some(Fault::None),
                        "garble" => Some(Fault::Garble),
                        "silent" => Some(Fault::Silent),
                        "checksum-once" => Some(Fault::ChecksumOnce),
                        "read-fails" => Some(Fault::ReadFails),
                        "removed-after-find" => Some(Fault::RemovedAfterFind),
                        _ => None,
                    };
                    f.map(|f| s.fault = f).ok_or("unknown fault")
                }
                [] => continue,
                _ => Err("unknown command"),
            }
        };
        let _ = match reply {
            Ok(()) => writeln!(out, "ok"),
            Err(e) => writeln!(out, "error {e}"),
        };
        let _ = out.flush();
    }
}
