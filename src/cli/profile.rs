//! Profiles and stage rules: `dv show REV --profile`, `dv diff A B --profile`, `dv check REV`,
//! `dv rules`.

use std::collections::BTreeSet;

use serde::Serialize;

use dv::VersionId;
use dv::object::Version;
use dv::profile::drift::{Change, Drift, drift};
use dv::profile::{Count, Profile};
use dv::rules::Rules;
use dv::workspace::Workspace;

use super::error::CliError;
use super::ui::{Ui, human_bytes, plural, table};
use super::{SHORT_ID, dataset_at_stage, open_workspace_to_read};

/// A version's profile as today's rules ask for it (the library fetches data only when it must
/// be computed), saying what was fetched.
pub(super) fn profile_of(
    ui: &Ui,
    ws: Workspace,
    id: &VersionId,
    version: &Version,
    rules: &Rules,
    only: Option<&BTreeSet<String>>,
) -> Result<(Workspace, Profile), CliError> {
    let (ws, profile, reports) = dv::profile::of_version(
        ws,
        id,
        version,
        &rules.settings(&version.stage),
        only,
        ui.fetch,
        &ui.progress(),
    )?;
    for report in &reports {
        super::fetched(ui, report);
    }
    Ok((ws, profile))
}

fn load_version(ws: &Workspace, rev: &str) -> Result<(VersionId, Version), CliError> {
    let id = dv::revision::resolve(ws, rev)?;
    let version = ws.version(&id)?;
    Ok((id, version))
}

/// `dv show REV --profile`.
pub(super) fn show(
    ui: &Ui,
    ws: Workspace,
    id: VersionId,
    version: &Version,
    json: bool,
) -> Result<(), CliError> {
    let rules = Rules::load(ws.root(), ws.stages())?;
    let (_, profile) = profile_of(ui, ws, &id, version, &rules, None)?;
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            id: VersionId,
            #[serde(flatten)]
            profile: &'a Profile,
        }
        return ui.json(&Out {
            id,
            profile: &profile,
        });
    }
    ui.out(render_profile(version, &id, &profile))
}

fn counts_line(counts: &std::collections::BTreeMap<String, Count>, unnamed: &str) -> String {
    counts
        .iter()
        .map(|(name, c)| {
            let name = if name.is_empty() { unnamed } else { name };
            format!("{name} {} ({})", c.files, human_bytes(c.bytes))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_profile(version: &Version, id: &VersionId, profile: &Profile) -> String {
    let mut out = table(&[
        vec![
            "version".into(),
            format!("{} {}", dataset_at_stage(version), id.short(SHORT_ID)),
        ],
        vec![
            "contents".into(),
            format!(
                "{}, {}",
                plural(profile.files, "file"),
                human_bytes(profile.bytes)
            ),
        ],
        vec![
            "extensions".into(),
            counts_line(&profile.extensions, "(none)"),
        ],
        vec!["directories".into(), counts_line(&profile.directories, ".")],
    ]);
    for (path, t) in &profile.tables {
        out.push('\n');
        if let Some(error) = &t.error {
            out.push_str(&format!("{path} ({}): cannot be read: {error}\n", t.format));
            continue;
        }
        out.push_str(&format!(
            "{path} ({}): {}, {}\n",
            t.format,
            plural(t.rows, "row"),
            plural(t.duplicate_rows, "duplicate row")
        ));
        let mut rows = vec![vec!["  column".to_string(), "type".into(), "nulls".into()]];
        for c in &t.columns {
            rows.push(vec![
                format!("  {}", c.name),
                c.kind.clone(),
                c.nulls.to_string(),
            ]);
        }
        out.push_str(&table(&rows));
        for (column, values) in &t.labels {
            let total: u64 =
                values.values().sum::<u64>() + t.labels_other.get(column).copied().unwrap_or(0);
            let mut sorted: Vec<(&String, &u64)> = values.iter().collect();
            sorted.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            let mut shown: Vec<String> = sorted
                .iter()
                .map(|(v, n)| format!("{v} {n} ({:.1}%)", **n as f64 * 100.0 / total.max(1) as f64))
                .collect();
            if let Some(other) = t.labels_other.get(column) {
                shown.push(format!("other values {other}"));
            }
            out.push_str(&format!("  labels {column}: {}\n", shown.join(", ")));
        }
    }
    out
}

/// `dv diff A B --profile`.
pub(super) fn diff(
    ui: &Ui,
    ws: Workspace,
    old: VersionId,
    new: VersionId,
    json: bool,
) -> Result<(), CliError> {
    let rules = Rules::load(ws.root(), ws.stages())?;
    let old_version = ws.version(&old)?;
    let new_version = ws.version(&new)?;
    // Both sides are profiled alike: with the labels the newer one's stage names. Of two
    // versions of one stage, a table whose stored profile both share is equal in both: only
    // the others are read.
    let changed = (old_version.stage == new_version.stage)
        .then(|| dv::profile::changed_tables(&ws, &old_version, &new_version))
        .flatten();
    let (ws, old_profile) = profile_of(
        ui,
        ws,
        &old,
        &old_version,
        &rules_for(&rules, &new_version.stage, &old_version.stage),
        changed.as_ref(),
    )?;
    let (_, new_profile) = profile_of(ui, ws, &new, &new_version, &rules, changed.as_ref())?;
    let drift = drift(&old_profile, &new_profile);
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            old: VersionId,
            new: VersionId,
            #[serde(flatten)]
            drift: &'a Drift,
        }
        return ui.json(&Out {
            old,
            new,
            drift: &drift,
        });
    }
    ui.out(render_drift(&drift))
}

/// The rules with `from`'s label columns also applied to versions of `to`, so two stages'
/// versions are profiled with the same labels.
fn rules_for(rules: &Rules, from: &str, to: &str) -> Rules {
    let mut out = rules.clone();
    if from != to
        && let Some(source) = rules.stages.get(from)
    {
        let target = out.stages.entry(to.to_string()).or_default();
        for table in &source.tables {
            if !table.label_columns.is_empty() {
                target.tables.push(dv::rules::TableRules {
                    required: false,
                    ..table.clone()
                });
            }
        }
    }
    out
}

fn arrow(change: &Change) -> String {
    let delta = change.new as i128 - change.old as i128;
    if delta == 0 {
        format!("{} (same)", change.old)
    } else {
        format!("{} → {} ({delta:+})", change.old, change.new)
    }
}

fn render_drift(drift: &Drift) -> String {
    if drift.is_empty() {
        return "The profiles are the same.\n".into();
    }
    let mut rows = vec![
        vec!["files".into(), arrow(&drift.files)],
        vec![
            "bytes".into(),
            format!(
                "{} → {}",
                human_bytes(drift.bytes.old),
                human_bytes(drift.bytes.new)
            ),
        ],
    ];
    for (ext, change) in &drift.extensions {
        let name = if ext.is_empty() { "(none)" } else { ext };
        rows.push(vec![format!("  .{name} files"), arrow(change)]);
    }
    let balance = &drift.directories;
    if balance.directories.values().any(Change::moved) {
        rows.push(vec![
            "directories".into(),
            format!("balance moved by {:.3} (total variation)", balance.distance),
        ]);
        for (parent, distance) in &balance.classes {
            rows.push(vec![
                format!("  {parent}/*"),
                format!("class balance moved by {distance:.3} (total variation)"),
            ]);
        }
        for (dir, change) in balance.directories.iter().filter(|(_, c)| c.moved()) {
            rows.push(vec![format!("  {dir}/"), arrow(change)]);
        }
    }
    let mut out = table(&rows);
    for (path, t) in &drift.tables {
        out.push_str(&format!("\n{path} ({})\n", t.status));
        let mut rows = vec![vec!["  rows".to_string(), arrow(&t.rows)]];
        if t.duplicate_rows.moved() {
            rows.push(vec!["  duplicate rows".into(), arrow(&t.duplicate_rows)]);
        }
        if t.status == "changed" {
            if !t.columns_added.is_empty() {
                rows.push(vec!["  columns added".into(), t.columns_added.join(", ")]);
            }
            if !t.columns_removed.is_empty() {
                rows.push(vec![
                    "  columns removed".into(),
                    t.columns_removed.join(", "),
                ]);
            }
            for r in &t.retyped {
                rows.push(vec![
                    format!("  type of {}", r.column),
                    format!("{} → {}", r.old, r.new),
                ]);
            }
            for (column, change) in &t.nulls {
                rows.push(vec![format!("  nulls in {column}"), arrow(change)]);
            }
        }
        for (column, shift) in &t.labels {
            rows.push(vec![
                format!("  labels {column}"),
                format!(
                    "distribution moved by {:.3} (total variation)",
                    shift.distance
                ),
            ]);
            for (value, change) in &shift.values {
                rows.push(vec![format!("    {value}"), arrow(change)]);
            }
        }
        out.push_str(&table(&rows));
    }
    out
}

/// Evaluate a version against the stage rules in dv.toml
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The version: id, id prefix, tag, DATASET, DATASET@STAGE, with optional ~N
    #[arg(add = super::complete::rev_candidates())]
    rev: String,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn check(ui: &Ui, args: CheckArgs) -> Result<(), CliError> {
    let ws = open_workspace_to_read()?;
    let rules = Rules::load(ws.root(), ws.stages())?;
    let (id, version) = load_version(&ws, &args.rev)?;
    let input_stages = dv::commit::input_stages(&ws, &version.inputs)?;
    let (_, profile) = profile_of(ui, ws, &id, &version, &rules, None)?;
    let failures = rules.check(&version, &input_stages, &profile);
    let has_rules = rules.has_stage(&version.stage);
    if args.json {
        #[derive(Serialize)]
        struct Out<'a> {
            id: VersionId,
            dataset: &'a str,
            stage: &'a str,
            /// Whether dv.toml has rules for the version's stage.
            rules: bool,
            passed: bool,
            failures: &'a [dv::object::RuleFailure],
            /// The failures recorded when it was committed with --allow-failing.
            committed_failing: &'a [dv::object::RuleFailure],
        }
        ui.json(&Out {
            id,
            dataset: &version.dataset,
            stage: &version.stage,
            rules: has_rules,
            passed: failures.is_empty(),
            failures: &failures,
            committed_failing: &version.failed_rules,
        })?;
    } else if !has_rules {
        ui.out(format!(
            "{} {}: dv.toml has no rules for stage {}.\n",
            dataset_at_stage(&version),
            id.short(SHORT_ID),
            version.stage
        ))?;
    } else if failures.is_empty() {
        ui.out(format!(
            "{} {} passes the {} rules.\n",
            dataset_at_stage(&version),
            id.short(SHORT_ID),
            version.stage
        ))?;
    } else {
        let mut text = format!(
            "{} {} fails {}:\n",
            dataset_at_stage(&version),
            id.short(SHORT_ID),
            plural(failures.len() as u64, "stage rule")
        );
        for line in dv::rules::report(&failures) {
            text.push_str(&format!("  {line}\n"));
        }
        ui.out(text)?;
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::exit_code_only())
    }
}

/// Print the stage rules in force (from dv.toml at the workspace root)
#[derive(clap::Args)]
pub struct RulesArgs {
    /// Print the rules as JSON
    #[arg(long)]
    json: bool,
}

pub fn rules(ui: &Ui, args: RulesArgs) -> Result<(), CliError> {
    let ws = open_workspace_to_read()?;
    let rules = Rules::load(ws.root(), ws.stages())?;
    if args.json {
        #[derive(Serialize)]
        struct Out<'a> {
            path: Option<&'a std::path::Path>,
            #[serde(flatten)]
            rules: &'a Rules,
        }
        return ui.json(&Out {
            path: rules.path.as_deref(),
            rules: &rules,
        });
    }
    let mut out = match &rules.path {
        Some(path) => format!("Rules from {}\n", path.display()),
        None => format!(
            "No {} at {}: no stage rules, default profiling.\n",
            dv::rules::RULES_FILE,
            ws.root().display()
        ),
    };
    let profile = &rules.profile;
    let nulls: Vec<String> = profile
        .null_values
        .iter()
        .map(|n| format!("{n:?}"))
        .collect();
    out.push_str(&format!(
        "\nprofile: {}; null values {}; labels keep the {} most frequent values\n",
        if profile.enabled {
            "recorded at every commit"
        } else {
            "recorded only for stages with rules"
        },
        nulls.join(", "),
        profile.max_label_values
    ));
    for stage in ws.stages() {
        let Some(stage_rules) = rules.stages.get(stage) else {
            out.push_str(&format!("\n{stage}: no rules\n"));
            continue;
        };
        out.push_str(&format!("\n{stage}:\n"));
        let mut rows: Vec<Vec<String>> = Vec::new();
        if let Some(from) = &stage_rules.inputs_from {
            rows.push(vec!["  inputs from".into(), from.join(" or ")]);
        }
        if !stage_rules.require.is_empty() {
            let names: Vec<String> = stage_rules
                .require
                .iter()
                .map(|r| r.name().to_string())
                .collect();
            rows.push(vec!["  requires".into(), names.join(", ")]);
        }
        if let Some(min) = stage_rules.min_files {
            rows.push(vec!["  files at least".into(), min.to_string()]);
        }
        if !stage_rules.directories.is_empty() {
            rows.push(vec![
                "  directories".into(),
                stage_rules.directories.join(", "),
            ]);
        }
        if let Some(ratio) = stage_rules.max_directory_ratio {
            rows.push(vec![
                "  directory balance".into(),
                format!("fullest / emptiest at most {ratio}"),
            ]);
        }
        for t in &stage_rules.tables {
            rows.push(vec![format!("  tables {}", t.files), String::new()]);
            if !t.columns.is_empty() {
                rows.push(vec!["    columns".into(), t.columns.join(", ")]);
            }
            for (column, kind) in &t.types {
                rows.push(vec![format!("    type of {column}"), kind.clone()]);
            }
            if !t.no_nulls.is_empty() {
                rows.push(vec!["    no nulls in".into(), t.no_nulls.join(", ")]);
            }
            if let Some(max) = t.max_duplicate_rows {
                rows.push(vec![
                    "    duplicate rows".into(),
                    format!("at most {max} of rows"),
                ]);
            }
            if let Some(min) = t.min_rows {
                rows.push(vec!["    rows at least".into(), min.to_string()]);
            }
            if !t.label_columns.is_empty() {
                let ratio = t
                    .max_label_ratio
                    .map(|r| format!(" (most / least frequent at most {r})"))
                    .unwrap_or_default();
                rows.push(vec![
                    "    labels".into(),
                    format!("{}{ratio}", t.label_columns.join(", ")),
                ]);
            }
        }
        out.push_str(&table(&rows));
    }
    ui.out(out)
}
