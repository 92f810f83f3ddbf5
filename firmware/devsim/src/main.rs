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
//!
//! `devsim vpcd --connect P [--slot0 CARD] [--slot1 CARD]` is the card side of vsmartcard's vpcd
//! driver (like vsmartcard's vicc): for each of the driver's two slots (ports P and P+1 on
//! 127.0.0.1, where vpcd listens) it connects while the slot holds a card and closes the
//! connection when the card is taken out or changed (at vpcd's next message), which is how a card
//! leaves a vpcd reader. Cards: `social` (a social security card, T=0), `bank` (a PBOC debit card
//! through PSE), `bank-contactless` (through PPSE), `none`. Stdin commands: `slot 0|1 CARD`,
//! `delay 0|1 MS` (the card answers each APDU this late), `quit`. (`--port P` instead listens
//! for vpcd's reversed mode; the packaged driver cannot take a card out in that mode.)

use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use devsim::sam::{sample, Fault, SimSam};
use devsim::smartcards::{PbocSim, SimCard, SocialSim};

/// Print the banner, then run stdin commands (one per line, answered "ok" or "error ...") until
/// "quit" or the end of input.
fn command_loop(banner: &str, mut run: impl FnMut(&[&str]) -> Result<(), &'static str>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{banner}");
    let _ = out.flush();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            ["quit"] => break,
            [] => continue,
            w => run(w),
        };
        let _ = match reply {
            Ok(()) => writeln!(out, "ok"),
            Err(e) => writeln!(out, "error {e}"),
        };
        let _ = out.flush();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("vpcd") {
        vpcd(&args[1..]);
        return;
    }
    if args.first().map(String::as_str) != Some("sam") {
        eprintln!("usage: devsim sam [--card NAME|none] [--no-finger-command]\n       devsim vpcd --port P [--slot0 CARD] [--slot1 CARD]");
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
    let path = match devsim::sam::start(state.clone()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("devsim: no pseudo-terminal: {e}");
            std::process::exit(1);
        }
    };
    command_loop(&format!("PORT {path}"), |words| {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        match words {
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
            _ => Err("unknown command"),
        }
    });
}

/// A slot: its card, a counter of card changes, and a delay before each answer to an APDU (a
/// slow card).
struct SlotState {
    card: Option<Box<dyn SimCard>>,
    generation: u64,
    delay: Duration,
}
type Slot = Arc<Mutex<SlotState>>;

/// Acknowledge at once (vpcd sends a message's length and body separately; a delayed ACK would
/// hold each body back ~40 ms).
fn quick_ack(s: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: setsockopt on our socket with an int option.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Serve one vpcd connection until it drops or (with `leave_on_change`) the card changes.
fn serve_conn(mut s: std::net::TcpStream, slot: &Slot, leave_on_change: bool) {
    use std::io::Read;
    let _ = s.set_nodelay(true);
    let generation = slot.lock().unwrap_or_else(|e| e.into_inner()).generation;
    loop {
        quick_ack(&s);
        let mut len = [0u8; 2];
        if s.read_exact(&mut len).is_err() {
            return;
        }
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        quick_ack(&s);
        if s.read_exact(&mut msg).is_err() {
            return;
        }
        if msg.len() > 1 {
            let delay = slot.lock().unwrap_or_else(|e| e.into_inner()).delay;
            std::thread::sleep(delay);
        }
        let reply = {
            let mut c = slot.lock().unwrap_or_else(|e| e.into_inner());
            if leave_on_change && (c.generation != generation || c.card.is_none()) {
                // The card was taken out: the connection goes with it.
                return;
            }
            match (msg.as_slice(), c.card.as_mut()) {
                // Power off / on / reset: no answer.
                ([0x00] | [0x01] | [0x02], _) => continue,
                // The ATR; an empty one means no card.
                ([0x04], Some(card)) => card.atr(),
                ([0x04], None) => Vec::new(),
                (_, Some(card)) if msg.len() > 1 => card.apdu(&msg),
                _ => Vec::new(),
            }
        };
        let mut out = (reply.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&reply);
        if s.write_all(&out).is_err() {
            return;
        }
    }
}

/// Connect to vpcd's slot while it holds a card; reconnect after a change.
fn connect_slot(port: u16, slot: Slot) {
    loop {
        let has_card = slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .card
            .is_some();
        if !has_card {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            serve_conn(s, &slot, true);
        }
        // Long enough for pcscd to see the reader empty before the next card arrives.
        std::thread::sleep(Duration::from_millis(150));
    }
}

fn card(name: &str) -> Result<Option<Box<dyn SimCard>>, &'static str> {
    Ok(match name {
        "social" => Some(Box::new(SocialSim::sample())),
        "bank" => Some(Box::new(PbocSim::sample(false))),
        "bank-contactless" => Some(Box::new(PbocSim::sample(true))),
        "none" => None,
        _ => return Err("unknown card"),
    })
}

/// One slot in reversed mode: accept the driver's connection (again after it drops).
fn serve_slot(listener: std::net::TcpListener, slot: Slot) {
    loop {
        let Ok((s, _)) = listener.accept() else {
            return;
        };
        serve_conn(s, &slot, false);
    }
}

fn vpcd(args: &[String]) {
    let mut port: Option<u16> = None;
    let mut connect = false;
    let mut cards: [Option<Box<dyn SimCard>>; 2] = [None, None];
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).map(String::as_str).unwrap_or("");
        match args[i].as_str() {
            "--port" => port = v.parse().ok(),
            "--connect" => {
                port = v.parse().ok();
                connect = true;
            }
            "--slot0" | "--slot1" => {
                let n = if args[i] == "--slot0" { 0 } else { 1 };
                match card(v) {
                    Ok(c) => cards[n] = c,
                    Err(e) => {
                        eprintln!("devsim: {e}: {v}");
                        std::process::exit(2);
                    }
                }
            }
            other => {
                eprintln!("devsim: unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let Some(port) = port else {
        eprintln!("devsim vpcd: --connect P (or --port P) is required");
        std::process::exit(2);
    };
    let [c0, c1] = cards;
    let slot_of = |card| {
        Arc::new(Mutex::new(SlotState {
            card,
            generation: 0,
            delay: Duration::ZERO,
        }))
    };
    let slots: [Slot; 2] = [slot_of(c0), slot_of(c1)];
    let banner = if connect {
        for (n, slot) in slots.iter().enumerate() {
            let slot = slot.clone();
            let p = port + n as u16;
            std::thread::spawn(move || connect_slot(p, slot));
        }
        format!("CONNECTING 127.0.0.1:{port} 127.0.0.1:{}", port + 1)
    } else {
        for (n, slot) in slots.iter().enumerate() {
            let l = match std::net::TcpListener::bind(("127.0.0.1", port + n as u16)) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!(
                        "devsim: cannot listen on 127.0.0.1:{}: {e}",
                        port + n as u16
                    );
                    std::process::exit(1);
                }
            };
            let slot = slot.clone();
            std::thread::spawn(move || serve_slot(l, slot));
        }
        format!("LISTENING 127.0.0.1:{port} 127.0.0.1:{}", port + 1)
    };
    command_loop(&banner, |words| match words {
        ["slot", n @ ("0" | "1"), name] => card(name).map(|c| {
            let i: usize = n.parse().unwrap_or(0);
            let mut s = slots[i].lock().unwrap_or_else(|e| e.into_inner());
            s.card = c;
            s.generation += 1;
        }),
        ["delay", n @ ("0" | "1"), ms] => ms
            .parse::<u64>()
            .map(|ms| {
                let i: usize = n.parse().unwrap_or(0);
                slots[i].lock().unwrap_or_else(|e| e.into_inner()).delay =
                    Duration::from_millis(ms);
            })
            .map_err(|_| "bad milliseconds"),
        _ => Err("unknown command"),
    });
}
