//! `dv completions SHELL` and `dv man [COMMAND] [--out DIR]`, and the revision names the shell
//! completes from the workspace it is in.
//!
//! Completion is dynamic: the script `dv completions` prints asks dv itself (with
//! `DV_COMPLETE=SHELL` set) for candidates, so options and subcommands are always this dv's, and
//! a revision argument completes to the tags, datasets and `DATASET@STAGE` names of the current
//! workspace.

use std::io::Write;
use std::path::PathBuf;

use clap::{CommandFactory, ValueEnum};
use clap_complete::engine::CompletionCandidate;

use super::error::CliError;
use super::ui::Ui;

/// The variable the completion script sets when it asks dv for candidates.
pub const COMPLETE_VAR: &str = "DV_COMPLETE";

/// Print the shell completion script (load it with `source <(dv completions bash)`, or see
/// `dv completions --help` for each shell)
///
/// bash: `source <(dv completions bash)` in ~/.bashrc; zsh: `source <(dv completions zsh)` in
/// ~/.zshrc; fish: `dv completions fish | source` in config.fish; PowerShell:
/// `dv completions powershell | Out-String | Invoke-Expression` in $PROFILE.
#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

pub fn completions(ui: &Ui, args: CompletionsArgs) -> Result<(), CliError> {
    let name = args
        .shell
        .to_possible_value()
        .expect("every shell has a name");
    let shells = clap_complete::env::Shells::builtins();
    let shell = shells
        .completer(name.get_name())
        .expect("every listed shell is built in");
    let mut script = Vec::new();
    shell.write_registration(COMPLETE_VAR, "dv", "dv", "dv", &mut script)?;
    ui.out_bytes(&script)
}

/// Print dv's manual page (or a command's) as roff, or write every page into a directory
#[derive(clap::Args)]
pub struct ManArgs {
    /// A command (default: dv itself)
    command: Option<String>,

    /// Write dv.1 and a page per command (dv-COMMAND.1) into DIR instead; `docs/man` is made
    /// this way (`cargo run -- man --out docs/man`)
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    out: Option<PathBuf>,
}

pub fn man(ui: &Ui, args: ManArgs) -> Result<(), CliError> {
    let mut command = super::Cli::command();
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|e| dv::Error::io(dir, e))?;
        clap_mangen::generate_to(command, dir).map_err(|e| dv::Error::io(dir, e))?;
        ui.status(format!("Wrote the manual pages into {}.", dir.display()));
        return Ok(());
    }
    // Built, so each command's page is titled `dv-COMMAND` as in the written pages.
    command.build();
    let page = match &args.command {
        None => command,
        Some(name) => command
            .get_subcommands()
            .find(|sub| sub.get_name() == name)
            .cloned()
            .ok_or_else(|| {
                CliError::user(format!("Unknown command \"{name}\""))
                    .hinted("`dv --help` lists the commands.")
            })?,
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).render(&mut roff)?;
    ui.out_bytes(&roff)?;
    std::io::stdout().flush()?;
    Ok(())
}

/// The candidates of a revision argument (`#[arg(add = rev_candidates())]`).
pub fn rev_candidates() -> clap_complete::engine::ArgValueCandidates {
    clap_complete::engine::ArgValueCandidates::new(revisions)
}

/// What a revision argument can be: the workspace's tags, datasets and `DATASET@STAGE` names
/// (nothing outside a workspace).
pub fn revisions() -> Vec<CompletionCandidate> {
    let Ok(ws) = super::open_workspace_to_read() else {
        return Vec::new();
    };
    let mut names = std::collections::BTreeMap::new();
    if let Ok(tags) = ws.tags() {
        for (tag, _) in tags {
            names.insert(tag, "tag");
        }
    }
    if let Ok(versions) = ws.log(&Default::default()) {
        for (_, version) in versions {
            names.entry(version.dataset.clone()).or_insert("dataset");
            names
                .entry(format!("{}@{}", version.dataset, version.stage))
                .or_insert("stage");
        }
    }
    names
        .into_iter()
        .map(|(name, what)| CompletionCandidate::new(name).help(Some(what.into())))
        .collect()
}
