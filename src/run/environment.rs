//! What of a command's environment matters for running it again: the operating system, the
//! interpreter a script ran under and, for Python, every installed distribution.

use std::path::Path;
use std::process::{Command, Stdio};

/// Asks Python for its version, then every installed distribution as `name==version`.
const PYTHON_PROBE: &str = "import sys, importlib.metadata as m\n\
print(sys.version.split()[0])\n\
for d in sorted({(d.metadata['Name'] or '?').lower() + '==' + d.version for d in m.distributions()}):\n    print(d)\n";

/// Operating system and architecture, e.g. `linux-x86_64`.
pub fn os() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

/// What dv learns about the interpreter running a command (`None` for a program it does not
/// know as one): its name, its version, and for Python the distributions listing.
pub struct Probed {
    pub program: String,
    pub version: String,
    pub packages: Option<String>,
}

/// The name of a known interpreter `program` is (`python3.12` is `python`).
pub fn interpreter_kind(program: &str) -> Option<&'static str> {
    let name = Path::new(program).file_name()?.to_str()?;
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    Some(match stem {
        "python" => "python",
        "Rscript" | "R" => "R",
        "node" => "node",
        "ruby" => "ruby",
        "perl" => "perl",
        "julia" => "julia",
        _ => return None,
    })
}

/// Asks the interpreter `program` (run from `cwd`) what it is; `None` when it is not one dv
/// knows or it does not answer.
pub fn probe(program: &str, cwd: &Path) -> Option<Probed> {
    let kind = interpreter_kind(program)?;
    let mut command = Command::new(program);
    command
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    if kind == "python" {
        command.args(["-c", PYTHON_PROBE]);
    } else {
        command.arg("--version");
    }
    command.stdout(Stdio::piped());
    let out = crate::process::spawn(&mut command)
        .and_then(|child| child.wait_with_output())
        .ok()
        .filter(|out| out.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let version = lines.next()?.trim().to_string();
    let packages = (kind == "python").then(|| {
        let mut listing: String = lines.map(|line| format!("{line}\n")).collect();
        if listing.is_empty() {
            listing.push('\n');
        }
        listing
    });
    Some(Probed {
        program: kind.to_string(),
        version,
        packages,
    })
}

/// The differences between two Python distribution listings, as `+name==v`, `-name==v`.
pub fn package_changes(recorded: &str, now: &str) -> Vec<String> {
    let old: std::collections::BTreeSet<&str> = recorded.lines().collect();
    let new: std::collections::BTreeSet<&str> = now.lines().collect();
    old.difference(&new)
        .map(|line| format!("-{line}"))
        .chain(new.difference(&old).map(|line| format!("+{line}")))
        .collect()
}
