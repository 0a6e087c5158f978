//! Where output goes: data on stdout (one JSON document with `--json`), status sentences on
//! stderr (silenced by `--quiet`), colour and progress bars only on a terminal.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::error::CliError;

pub struct Ui {
    pub quiet: bool,
    /// `--offline` makes data that is not local an error; otherwise it is fetched on demand.
    pub fetch: dv::remote::Fetch,
}

impl Ui {
    /// Prints a status sentence on stderr unless `--quiet`.
    pub fn status(&self, message: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", message.as_ref());
        }
    }

    /// Prints data on stdout.
    pub fn out(&self, text: impl AsRef<str>) -> Result<(), CliError> {
        self.out_bytes(text.as_ref().as_bytes())
    }

    /// Prints raw bytes on stdout.
    pub fn out_bytes(&self, bytes: &[u8]) -> Result<(), CliError> {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(bytes)?;
        stdout.flush()?;
        Ok(())
    }

    /// Prints one JSON document on stdout.
    pub fn json(&self, value: &impl Serialize) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(value).expect("output serializes");
        self.out(text + "\n")
    }

    /// A progress reporter: a bar on a terminal, nothing otherwise.
    pub fn progress(&self) -> Bar {
        let visible = !self.quiet && std::io::stderr().is_terminal();
        let bar = ProgressBar::with_draw_target(
            None,
            if visible {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        Bar { bar }
    }
}

/// An indicatif bar behind the library's progress trait.
pub struct Bar {
    bar: ProgressBar,
}

impl dv::progress::Progress for Bar {
    fn begin(&self, phase: &'static str, total: u64, unit: dv::progress::Unit) {
        let template = match unit {
            // A transfer whose size is learnt as it goes: bytes and rate, no bar.
            dv::progress::Unit::Bytes if total == 0 => {
                "{msg:>12} {spinner} {bytes} {bytes_per_sec}"
            }
            dv::progress::Unit::Bytes => {
                "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
            }
            dv::progress::Unit::Objects => "{msg:>12} [{bar:30}] {pos}/{len} objects eta {eta}",
        };
        self.bar.reset();
        self.bar.set_length(total);
        let style = ProgressStyle::with_template(template).expect("template is valid");
        self.bar.set_style(style.progress_chars("=> "));
        self.bar.set_message(phase);
    }

    fn advance(&self, amount: u64) {
        self.bar.inc(amount);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Formats a byte count for people: `512 B`, `1.5 KiB`, `2.0 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `1 file`, `3 files`.
pub fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Pads the columns of rows so they line up.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
