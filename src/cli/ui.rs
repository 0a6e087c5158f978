//! Where output goes: data on stdout (one JSON document with `--json`), status sentences on
//! stderr (silenced by `--quiet`), colour and progress bars only on a terminal.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::error::CliError;

/// What a stream prints: text for people (terminal controls always made visible), or a
/// machine format (exact bytes, unless it is shown on a terminal).
#[derive(Clone, Copy)]
pub enum Shape {
    Human,
    Machine,
}

pub struct Ui {
    pub quiet: bool,
    /// `--offline` makes data that is not local an error; otherwise it is fetched on demand.
    pub fetch: dv::available::Fetch,
}

impl Ui {
    /// Prints a status sentence on stderr unless `--quiet`.
    pub fn status(&self, message: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", visible(message.as_ref()));
        }
    }

    /// Prints human-readable data on stdout, terminal controls made visible.
    pub fn out(&self, text: impl AsRef<str>) -> Result<(), CliError> {
        self.out_bytes(visible(text.as_ref()).as_bytes())
    }

    /// Prints stored content or a machine format (a code file, a captured log, JSON, DOT, HTML):
    /// byte for byte into a pipe or file, with terminal controls made visible on a terminal,
    /// since any of it may have come from a remote.
    pub fn out_content(&self, bytes: &[u8]) -> Result<(), CliError> {
        if std::io::stdout().is_terminal() {
            return self.out(String::from_utf8_lossy(bytes));
        }
        self.out_bytes(bytes)
    }

    /// Prints bytes on stdout as they are (a completion script, a manual page).
    pub fn out_bytes(&self, bytes: &[u8]) -> Result<(), CliError> {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(bytes)?;
        stdout.flush()?;
        Ok(())
    }

    /// Writes `head`, then whatever `body` writes through the function it is given, to stdout
    /// through one buffer, as it comes: a listing of millions of lines starts at once and is
    /// never held in memory. A closed pipe (`dv show --files | head`) ends it quietly.
    pub fn stream(
        &self,
        shape: Shape,
        head: String,
        body: impl FnOnce(&mut dyn FnMut(String) -> dv::Result<()>) -> dv::Result<()>,
    ) -> Result<(), CliError> {
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        let human = matches!(shape, Shape::Human) || std::io::stdout().is_terminal();
        let mut failed: Option<std::io::Error> = None;
        let outcome = {
            let mut write = |text: String| {
                let text = if human { visible(&text) } else { text.into() };
                stdout.write_all(text.as_bytes()).map_err(|e| {
                    let error = dv::Error::io(
                        "standard output",
                        std::io::Error::new(e.kind(), e.to_string()),
                    );
                    failed = Some(e);
                    error
                })
            };
            write(head).and_then(|()| body(&mut write))
        };
        if let Some(err) = failed {
            return Err(err.into());
        }
        outcome?;
        stdout.flush()?;
        Ok(())
    }

    /// Prints one JSON document on stdout.
    pub fn json(&self, value: &impl Serialize) -> Result<(), CliError> {
        let mut text = serde_json::to_string_pretty(value).expect("output serializes");
        text.push('\n');
        self.out_content(text.as_bytes())
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

/// Text for a terminal with every byte that could control it shown as an escape instead:
/// names, messages, reasons and headers can come from a remote, and printed raw an ESC, OSC or
/// C1 sequence could retitle, clear or rewrite the user's terminal. Line breaks and tabs stay;
/// ESC reads `\e`, a carriage return `\r`, other C0 bytes and DEL `\xNN`, C1 characters and
/// the bidirectional overrides that reorder a line `\u{NNNN}`.
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            _ if !hidden(c) => out.push(c),
            '\x1b' => out.push_str("\\e"),
            '\r' => out.push_str("\\r"),
            '\0'..='\x1f' | '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            _ => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
        }
    }
    std::borrow::Cow::Owned(out)
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
