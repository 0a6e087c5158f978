//! `dv diff REV_A [REV_B] [--path DIR] [--stat|--name-only] [--exit-code] [-- PATH...]`

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use dv::diff::files::{FileDiffer, FileItem};
use dv::diff::report::{DiffStat, FileDiff, ParamsDiff, ValueChange};
use dv::diff::rows::{FileRows, RowOptions};
use dv::diff::{Against, Comparison, compare, prepare};

use super::error::CliError;
use super::ui::{Shape, Ui, human_bytes, table};
use super::{SHORT_ID, fetched, open_workspace_to_read, with_local_data};

/// Show what changed between two versions, or between a version and a directory
#[derive(clap::Args)]
pub struct Args {
    /// The old version
    #[arg(add = super::complete::rev_candidates())]
    old: String,

    /// The new version (default: the directory REV_A was committed from or checked out to)
    #[arg(add = super::complete::rev_candidates())]
    new: Option<String>,

    /// Compare REV_A with this directory instead
    #[arg(long, value_name = "DIR", conflicts_with = "new")]
    path: Option<PathBuf>,

    /// Show counts and byte totals only
    #[arg(long, conflicts_with = "name_only")]
    stat: bool,

    /// Print only the changed paths, one per line
    #[arg(long)]
    name_only: bool,

    /// Exit with 1 if there are differences, 0 if there are none
    #[arg(long)]
    exit_code: bool,

    /// Print the diff as JSON
    #[arg(long, conflicts_with = "name_only")]
    json: bool,

    /// Also compare the rows of modified CSV, TSV, JSONL and Parquet files
    #[arg(long)]
    rows: bool,

    /// Match rows by these columns and report changed cells (implies --rows)
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    key: Vec<String>,

    /// Example rows to show per kind of row change
    #[arg(short = 'n', long = "examples", value_name = "N", default_value_t = 5)]
    examples: usize,

    /// Compare the two versions' profiles instead: rows, columns, types, nulls, duplicates,
    /// label distributions and class balance per directory (needs REV_B)
    #[arg(long, requires = "new", conflicts_with_all = ["rows", "key", "stat", "name_only"])]
    profile: bool,

    /// Only paths at or below these (relative to the dataset root)
    #[arg(last = true, value_name = "PATH")]
    paths: Vec<String>,
}

#[derive(Serialize)]
struct DiffView<'a> {
    old: dv::VersionId,
    #[serde(skip_serializing_if = "Option::is_none")]
    new: Option<dv::VersionId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dir: Option<PathBuf>,
    #[serde(flatten)]
    files: &'a FileDiff,
    provenance: &'a BTreeMap<&'static str, ValueChange>,
    params: &'a ParamsDiff,
    stat: DiffStat,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<&'a Vec<FileRows>>,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace_to_read()?;
    let old_id = dv::revision::resolve(&ws, &args.old)?;
    let against = match (&args.new, &args.path) {
        (Some(rev), _) => Against::Version(dv::revision::resolve(&ws, rev)?),
        (None, Some(dir)) => Against::Directory(dir.clone()),
        (None, None) => Against::WorkingDirectory,
    };
    if args.profile
        && let Against::Version(new_id) = against
    {
        return super::profile::diff(ui, ws, old_id, new_id, args.json);
    }
    let mut versions = vec![old_id];
    if let Against::Version(new) = &against {
        versions.push(*new);
    }
    let ws = with_local_data(ui, ws, &versions, dv::available::Need::Trees)?;
    let progress = ui.progress();
    if !args.rows && args.key.is_empty() {
        return stream(ui, &ws, &old_id, &against, &args, &progress);
    }
    let comparison = compare(&ws, &old_id, &against, &args.paths, &progress)?;
    let differs = comparison.differs();
    let Comparison {
        new: new_id,
        dir,
        files,
        provenance,
        params,
        ..
    } = comparison;
    let options = RowOptions {
        key: args.key.clone(),
        examples: args.examples,
    };
    let (_ws, rows, report) =
        dv::diff::rows::row_diffs(ws, &files, dir.as_deref(), &options, ui.fetch, &progress)?;
    if let Some(report) = report {
        fetched(ui, &report);
    }
    let row_errors = rows.iter().filter(|r| r.error.is_some()).count();
    if args.json {
        ui.json(&DiffView {
            old: old_id,
            new: new_id,
            dir,
            files: &files,
            provenance: &provenance,
            params: &params,
            stat: files.stat(),
            rows: Some(&rows),
        })?;
    } else {
        ui.out(render(&provenance, &params, &files))?;
        ui.out(render_rows(&rows))?;
    }
    if row_errors > 0 {
        let failed: Vec<String> = rows.iter().filter_map(|r| r.error.clone()).collect();
        return Err(CliError {
            details: failed,
            ..CliError::user(format!(
                "Could not compare the rows of {}",
                super::ui::plural(row_errors as u64, "file")
            ))
        }
        .hinted("The file-level diff above is complete; fix the file or compare without --rows."));
    }
    if args.exit_code && differs {
        return Err(CliError::exit_code_only());
    }
    Ok(())
}

/// The file-level diff without row diffs, streamed: counts and column widths are measured
/// first (from the trees' declared totals where a whole directory came or went), then every
/// line is printed as the walk finds it, so no form of it holds the list of changes.
fn stream(
    ui: &Ui,
    ws: &dv::Workspace,
    old_id: &dv::VersionId,
    against: &Against,
    args: &Args,
    progress: &dyn dv::progress::Progress,
) -> Result<(), CliError> {
    let sides = prepare(ws, old_id, against, progress)?;
    let source = sides.source(ws);
    let differ = sides.files(&source, &args.paths)?;
    let measure = differ.measure()?;
    let stat = measure.stat;
    let files_differ = stat.added
        + stat.removed
        + stat.modified
        + stat.renamed
        + stat.mode_changed
        + stat.type_changed
        > 0;
    let differs = files_differ || !sides.provenance.is_empty() || !sides.params.is_empty();
    if differ.renames_skipped && !args.json {
        ui.status(format!(
            "note: more than {} files were removed, so renames were not looked for: each is \
             listed as removed and added.",
            dv::diff::files::RENAME_LIMIT
        ));
    }
    if args.json {
        stream_json(ui, &sides, &differ, &stat)?;
    } else if args.name_only {
        ui.stream(Shape::Human, String::new(), |out| {
            differ.each(&mut |item| out(format!("{}\n", item.path())))
        })?;
    } else if args.stat {
        ui.out(render_stat(&stat))?;
    } else {
        let mut head = render_provenance(&sides.provenance, &sides.params);
        if !files_differ {
            head.push_str("no file changes\n");
        }
        let width = measure.path_width;
        ui.stream(Shape::Human, head, |out| {
            differ.each(&mut |item| {
                let (letter, what, size) = line(&item);
                let text = format!("{letter}  {what:width$}  {size}");
                out(format!("{}\n", text.trim_end()))
            })
        })?;
    }
    if args.exit_code && differs {
        return Err(CliError::exit_code_only());
    }
    Ok(())
}

/// `dv diff --json` written as the walk goes: one pass per kind of change that has any, each
/// array streamed entry by entry, in the shape of [`DiffView`].
fn stream_json(
    ui: &Ui,
    sides: &dv::diff::Sides,
    differ: &FileDiffer<'_>,
    stat: &DiffStat,
) -> Result<(), CliError> {
    let field = |name: &str, value: String| -> String {
        format!("  \"{name}\": {},\n", value.replace('\n', "\n  "))
    };
    let mut head = String::from("{\n");
    head.push_str(&field("old", pretty(&sides.old)));
    if let Some(new) = &sides.new {
        head.push_str(&field("new", pretty(new)));
    }
    if let Some(dir) = &sides.dir {
        head.push_str(&field("dir", pretty(dir)));
    }
    let kinds: [(&str, u64); 6] = [
        ("added", stat.added),
        ("removed", stat.removed),
        ("modified", stat.modified),
        ("renamed", stat.renamed),
        ("mode_changed", stat.mode_changed),
        ("type_changed", stat.type_changed),
    ];
    ui.stream(Shape::Machine, head, |out| {
        for (kind, count) in kinds {
            if count == 0 {
                out(format!("  \"{kind}\": [],\n"))?;
                continue;
            }
            out(format!("  \"{kind}\": ["))?;
            let mut first = true;
            differ.each(&mut |item| {
                let entry = match (&item, kind) {
                    (FileItem::Added(f), "added") | (FileItem::Removed(f), "removed") => pretty(f),
                    (FileItem::Modified(f), "modified")
                    | (FileItem::ModeChanged(f), "mode_changed")
                    | (FileItem::TypeChanged(f), "type_changed") => pretty(f),
                    (FileItem::Renamed(r), "renamed") => pretty(r),
                    _ => return Ok(()),
                };
                let sep = if std::mem::take(&mut first) { "" } else { "," };
                out(format!("{sep}\n    {}", entry.replace('\n', "\n    ")))
            })?;
            out("\n  ],\n".into())?;
        }
        let mut tail = String::new();
        if differ.renames_skipped {
            tail.push_str("  \"renames_skipped\": true,\n");
        }
        tail.push_str(&field("provenance", pretty(&sides.provenance)));
        tail.push_str(&field("params", pretty(&sides.params)));
        let stat = field("stat", pretty(stat));
        tail.push_str(stat.strip_suffix(",\n").unwrap_or(&stat));
        tail.push_str("\n}\n");
        out(tail)
    })
}

/// A value as pretty JSON.
fn pretty(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).expect("output serializes")
}

fn render_stat(stat: &DiffStat) -> String {
    let mut parts = Vec::new();
    for (n, what) in [
        (stat.added, "added"),
        (stat.removed, "removed"),
        (stat.modified, "modified"),
        (stat.renamed, "renamed"),
        (stat.mode_changed, "mode changed"),
        (stat.type_changed, "type changed"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if parts.is_empty() {
        return "no file changes\n".to_string();
    }
    format!(
        "{}; +{}, -{}\n",
        parts.join(", "),
        human_bytes(stat.bytes_added),
        human_bytes(stat.bytes_removed)
    )
}

/// A provenance value in a few words: ids shortened, code files as `path (hash)`, git state as
/// `commit on branch`.
fn short_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    let short = |s: &str| s.get(..SHORT_ID).unwrap_or(s).to_string();
    match value {
        Value::Null => "(none)".into(),
        Value::String(s) if dv::Hash::from_hex(s).is_some() => short(s),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "(none)".into(),
        Value::Array(items) => items.iter().map(short_json).collect::<Vec<_>>().join(", "),
        Value::Object(map) if map.contains_key("blob") => {
            format!(
                "{} ({})",
                map["path"].as_str().unwrap_or("?"),
                short(map["blob"].as_str().unwrap_or(""))
            )
        }
        Value::Object(map) if map.contains_key("dirty") => {
            let commit = map["commit"]
                .as_str()
                .map_or("no commit".to_string(), short);
            let branch = map["branch"]
                .as_str()
                .map_or(" (detached)".to_string(), |b| format!(" on {b}"));
            let dirty = if map["dirty"].as_bool() == Some(true) {
                ", dirty"
            } else {
                ""
            };
            format!("{commit}{branch}{dirty}")
        }
        Value::Object(_) | Value::Number(_) | Value::Bool(_) => value.to_string(),
    }
}

/// The provenance and parameter changes, as the head of a diff.
fn render_provenance(
    provenance: &BTreeMap<&'static str, ValueChange>,
    params: &ParamsDiff,
) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (field, change) in provenance {
        rows.push(vec![
            field.to_string(),
            format!("{} → {}", short_json(&change.old), short_json(&change.new)),
        ]);
    }
    let mut first = true;
    let mut param_row = |text: String| {
        rows.push(vec![
            if first {
                "params".into()
            } else {
                String::new()
            },
            text,
        ]);
        first = false;
    };
    for (key, value) in &params.added {
        param_row(format!("+ {key} = {value}"));
    }
    for (key, change) in &params.changed {
        param_row(format!("~ {key}: {} → {}", change.old, change.new));
    }
    for (key, value) in &params.removed {
        param_row(format!("- {key} (was {value})"));
    }
    let mut text = table(&rows);
    if !rows.is_empty() {
        text.push('\n');
    }
    text
}

/// One line of a diff: its letter, its path (or `from → to`), and its size or what changed.
fn line(item: &FileItem) -> (char, String, String) {
    match item {
        FileItem::Added(f) => ('A', f.path.clone(), format!("+{}", human_bytes(f.size))),
        FileItem::Removed(f) => ('D', f.path.clone(), format!("-{}", human_bytes(f.size))),
        FileItem::Modified(f) => (
            'M',
            f.path.clone(),
            format!("{} → {}", human_bytes(f.old_size), human_bytes(f.new_size)),
        ),
        FileItem::Renamed(r) => ('R', format!("{} → {}", r.from, r.to), human_bytes(r.size)),
        FileItem::ModeChanged(f) => {
            let what = if f.new_kind == "executable" {
                "now executable"
            } else {
                "no longer executable"
            };
            ('X', f.path.clone(), format!("({what})"))
        }
        FileItem::TypeChanged(f) => (
            'T',
            f.path.clone(),
            format!("({} → {})", f.old_kind, f.new_kind),
        ),
    }
}

/// A collected diff as text: provenance, then every file change in path order.
pub(super) fn render(
    provenance: &BTreeMap<&'static str, ValueChange>,
    params: &ParamsDiff,
    files: &FileDiff,
) -> String {
    let mut text = render_provenance(provenance, params);
    let mut items: Vec<FileItem> = files
        .added
        .iter()
        .cloned()
        .map(FileItem::Added)
        .chain(files.removed.iter().cloned().map(FileItem::Removed))
        .chain(files.modified.iter().cloned().map(FileItem::Modified))
        .chain(files.renamed.iter().cloned().map(FileItem::Renamed))
        .chain(
            files
                .mode_changed
                .iter()
                .cloned()
                .map(FileItem::ModeChanged),
        )
        .chain(
            files
                .type_changed
                .iter()
                .cloned()
                .map(FileItem::TypeChanged),
        )
        .collect();
    items.sort_by(|a, b| a.path().cmp(b.path()));
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            let (letter, what, size) = line(item);
            vec![letter.to_string(), what, size]
        })
        .collect();
    if rows.is_empty() {
        text.push_str("no file changes\n");
    } else {
        text.push_str(&table(&rows));
    }
    text
}

pub(super) fn render_rows(rows: &[FileRows]) -> String {
    let mut text = String::new();
    for view in rows {
        let Some(diff) = &view.diff else { continue };
        text.push_str(&format!(
            "\n{} ({}): {} added, {} removed",
            view.path, diff.format, diff.added, diff.removed
        ));
        if diff.changed > 0 || !diff.examples_changed.is_empty() {
            text.push_str(&format!(", {} changed", diff.changed));
        }
        text.push_str(&format!(", {} unchanged\n", diff.unchanged));
        let schema = &diff.schema;
        if !schema.added.is_empty() || !schema.removed.is_empty() || schema.reordered {
            let mut parts: Vec<String> = schema.added.iter().map(|c| format!("+{c}")).collect();
            parts.extend(schema.removed.iter().map(|c| format!("-{c}")));
            if schema.reordered {
                parts.push("(reordered)".into());
            }
            text.push_str(&format!("  columns: {}\n", parts.join(" ")));
        }
        let show = |row: &serde_json::Map<String, serde_json::Value>| {
            row.iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str()
                            .map_or_else(|| v.to_string(), |s| s.escape_debug().to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        for row in &diff.examples_added {
            text.push_str(&format!("  + {}\n", show(row)));
        }
        for row in &diff.examples_removed {
            text.push_str(&format!("  - {}\n", show(row)));
        }
        for row in &diff.examples_changed {
            let changes: Vec<String> = row
                .columns
                .iter()
                .map(|(c, v)| format!("{c}: {} → {}", short_json(&v.old), short_json(&v.new)))
                .collect();
            text.push_str(&format!("  ~ {}: {}\n", show(&row.key), changes.join(", ")));
        }
    }
    text
}
