//! Memory of every walk over an honest fan-out: 27 tree objects (a few KB) whose shared
//! subtrees declare 2^26 = 67,108,864 paths, as a crafted remote or copied `.dv` can carry.
//!
//!     cargo bench --bench fan_out
//!
//! Plants the version in a fresh workspace, then runs the release `dv` under `/usr/bin/time`
//! for each command (output to /dev/null; those that list every path are stopped after
//! `DV_FAN_OUT_SECONDS`, 20 by default, since printing 67M lines is honest work) and prints
//! peak RSS and wall time. The bound the issue set: under 300 MB for every one.

#![allow(clippy::disallowed_methods)] // fixtures are written with plain writes

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/support/crafted.rs"]
mod crafted;

const DEPTH: u32 = 26;

/// Runs dv under /usr/bin/time, stopping it after `limit`; returns (peak RSS in MB, seconds,
/// lines printed, whether it finished).
fn measure(root: &std::path::Path, args: &[&str], limit: Duration) -> (f64, f64, u64, bool) {
    let log = root.join("time.log");
    let started = Instant::now();
    let mut child = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_dv"))
        .args(args)
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("/usr/bin/time runs");
    let mut stdout = child.stdout.take().unwrap();
    let counter = std::thread::spawn(move || {
        use std::io::Read;
        let (mut lines, mut buf) = (0u64, vec![0u8; 1 << 16]);
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        }
        lines
    });
    let mut finished = true;
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            // Stop dv itself: /usr/bin/time then reports its peak.
            let _ = Command::new("pkill")
                .args(["-INT", "-P", &child.id().to_string()])
                .status();
            finished = false;
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let seconds = started.elapsed().as_secs_f64();
    let lines = counter.join().unwrap_or(0);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let kb: f64 = text
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .next_back()
        .unwrap_or(0.0);
    (kb / 1024.0, seconds, lines, finished)
}

fn main() {
    let limit = Duration::from_secs(
        std::env::var("DV_FAN_OUT_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20),
    );
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("ws");
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(root.join("data")).unwrap();
    std::fs::write(root.join("data/a.csv"), "x,y\n1,2\n").unwrap();
    let dv = env!("CARGO_BIN_EXE_dv");
    let ok = |args: &[&str]| {
        let out = Command::new(dv)
            .args(args)
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    ok(&["init", "-q"]);
    let base = ok(&["commit", "data", "-d", "base", "-s", "raw", "-q"]);
    let bomb = crafted::plant_fan_out(&root, "bomb", DEPTH, 1 << 20).to_hex();
    let x = blake3::hash(b"x").to_hex().to_string();
    let deepest = format!("bomb/{}/f", vec!["a"; DEPTH as usize].join("/"));
    let commands: Vec<(&str, Vec<&str>)> = vec![
        ("diff --stat", vec!["diff", &base, &bomb, "--stat"]),
        ("diff", vec!["diff", &base, &bomb]),
        ("diff --json", vec!["diff", &base, &bomb, "--json"]),
        ("diff (old side huge)", vec!["diff", &bomb, &base]),
        ("which HASH", vec!["which", &x]),
        ("which PATH", vec!["which", &deepest]),
        ("show --files", vec!["show", &bomb, "--files"]),
        ("show --profile", vec!["show", &bomb, "--profile"]),
        ("check", vec!["check", &bomb]),
        ("diff --profile", vec!["diff", &base, &bomb, "--profile"]),
        (
            "lineage openlineage",
            vec!["lineage", &bomb, "--format", "openlineage"],
        ),
        (
            "checkout (refused)",
            vec!["checkout", &bomb, "--to", "../out"],
        ),
        ("fsck", vec!["fsck"]),
    ];
    println!("fan-out of 2^{DEPTH} paths in {} tree objects", DEPTH + 1);
    println!(
        "{:<22} {:>10} {:>9} {:>12}  finished",
        "command", "peak MB", "seconds", "lines/s"
    );
    for (name, args) in commands {
        let (mb, seconds, lines, finished) = measure(&root, &args, limit);
        println!(
            "{name:<22} {mb:>10.1} {seconds:>9.2} {:>12.0}  {}",
            lines as f64 / seconds,
            if finished {
                "yes"
            } else {
                "stopped (still streaming)"
            }
        );
    }
}
