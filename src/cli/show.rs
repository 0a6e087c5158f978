//! `dv show REV [--files]`

use serde::Serialize;

use dv::fs_util::display_path;
use dv::object::EntryKind;
use dv::object::walk::{fold_distinct, walk_files};

use super::error::CliError;
use super::ui::{Shape, Ui, human_bytes, plural, table};
use super::{SHORT_ID, VersionView, dataset_at_stage, open_workspace_to_read, with_local_data};

/// Show one version with its provenance
#[derive(clap::Args)]
pub struct Args {
    /// The version: id, id prefix, tag, DATASET, DATASET@STAGE, with optional ~N
    #[arg(add = super::complete::rev_candidates())]
    rev: String,

    /// Also list every file in the version
    #[arg(long)]
    files: bool,

    /// Print the transform's recorded code files instead (one file: its exact bytes)
    #[arg(long, conflicts_with = "files")]
    code: bool,

    /// Print what the command wrote to stdout and stderr when `dv run` made the version
    #[arg(long, conflicts_with_all = ["files", "code"])]
    log: bool,

    /// Print what the data looks like instead: files per extension and top-level directory,
    /// and each table's rows, columns, types, nulls, duplicates and labels
    #[arg(long, conflicts_with_all = ["files", "code", "log"])]
    profile: bool,

    /// Print the version as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct FileView {
    path: String,
    kind: &'static str,
    size: u64,
    hash: String,
}

pub fn run(ui: &Ui, args: Args) -> Result<(), CliError> {
    let ws = open_workspace_to_read()?;
    let id = dv::revision::resolve(&ws, &args.rev)?;
    let version = ws.version(&id)?;
    if args.code {
        let ws = with_local_data(ui, ws, &[id], dv::available::Need::Code)?;
        return show_code(ui, &ws, &version, args.json);
    }
    if args.profile {
        return super::profile::show(ui, ws, id, &version, args.json);
    }
    if args.log {
        let ws = with_local_data(ui, ws, &[id], dv::available::Need::Code)?;
        return show_log(ui, &ws, &version, args.json);
    }
    let ws = if args.files {
        with_local_data(ui, ws, &[id], dv::available::Need::Trees)?
    } else {
        ws
    };
    let consumers: Vec<dv::pin::Consumer> = dv::pin::consumers(&ws)?
        .into_iter()
        .filter(|c| c.id == id)
        .collect();
    let status = dv::lifecycle::status(&ws, &id)?;
    let lifecycle = (status.state != dv::lifecycle::State::Active).then_some(&status);
    if args.json {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            view: VersionView<'a>,
            consumers: &'a [dv::pin::Consumer],
        }
        let view = VersionView {
            id,
            version: &version,
            lifecycle,
        };
        let out = Out {
            view,
            consumers: &consumers,
        };
        if !args.files {
            return ui.json(&out);
        }
        // The file list is streamed into the document, one entry at a time: a version of
        // millions of files is never held in memory.
        let head = serde_json::to_string_pretty(&out).expect("output serializes");
        let head = head.strip_suffix("\n}").expect("a JSON object ends with }");
        let mut first = true;
        return ui.stream(
            Shape::Machine,
            head.to_string() + ",\n  \"file_list\": [",
            |out| {
                walk_files(ws.trees(), &version.tree, &mut |file| {
                    let view = FileView {
                        path: display_path(&file.path),
                        kind: file.kind.name(),
                        size: file.size,
                        hash: file.id.to_hex(),
                    };
                    let entry = serde_json::to_string(&view).expect("output serializes");
                    let sep = if std::mem::take(&mut first) {
                        "\n    "
                    } else {
                        ",\n    "
                    };
                    out(format!("{sep}{entry}"))
                })?;
                out(if first { "]\n}\n" } else { "\n  ]\n}\n" }.to_string())
            },
        );
    }
    let mut rows = vec![
        vec!["version".into(), id.to_hex()],
        vec!["dataset".into(), dataset_at_stage(&version)],
        vec![
            "path".into(),
            if version.path.is_empty() {
                ".".into()
            } else {
                version.path.clone()
            },
        ],
        vec!["tree".into(), version.tree.to_hex()],
    ];
    if let Some(status) = lifecycle {
        rows.push(vec![
            "state".into(),
            format!("{}{}", status.state.name(), super::lifecycle_detail(status)),
        ]);
    }
    rows.push(vec![
        "contents".into(),
        format!(
            "{}, {}",
            plural(version.files, "file"),
            human_bytes(version.bytes)
        ),
    ]);
    for (i, input) in version.inputs.iter().enumerate() {
        let name = ws
            .find_version(input)?
            .map(|v| format!(" ({})", dataset_at_stage(&v)))
            .unwrap_or_default();
        rows.push(vec![
            if i == 0 {
                "inputs".into()
            } else {
                String::new()
            },
            format!("{}{name}", input.short(SHORT_ID)),
        ]);
    }
    if let Some(transform) = &version.transform {
        rows.push(vec!["transform".into(), transform.clone()]);
    }
    if let Some(run) = &version.run {
        rows.push(vec![
            "ran".into(),
            format!(
                "{} for {:.2} s in {}, exit {} ({}; `dv show --log` for its output)",
                run.started_at.get(..19).unwrap_or(&run.started_at),
                run.duration_ms as f64 / 1000.0,
                if run.workdir.is_empty() {
                    "."
                } else {
                    &run.workdir
                },
                run.exit_status,
                run.os
            ),
        ]);
        if let Some(interpreter) = &run.interpreter {
            rows.push(vec![
                "interpreter".into(),
                format!("{} {}", interpreter.program, interpreter.version),
            ]);
        }
        for (i, (name, value)) in run.env.iter().enumerate() {
            rows.push(vec![
                if i == 0 { "env".into() } else { String::new() },
                format!("{name}={value}"),
            ]);
        }
    }
    for (i, code) in version.code.iter().enumerate() {
        rows.push(vec![
            if i == 0 { "code".into() } else { String::new() },
            format!("{} ({})", code.path, code.blob.short(SHORT_ID)),
        ]);
    }
    for (i, (key, value)) in version.params.iter().enumerate() {
        rows.push(vec![
            if i == 0 {
                "params".into()
            } else {
                String::new()
            },
            format!("{key} = {value}"),
        ]);
    }
    if let Some(git) = &version.code_revision {
        let commit = git
            .commit
            .as_deref()
            .map_or("no commit yet", |c| c.get(..12).unwrap_or(c));
        let branch = git
            .branch
            .as_deref()
            .map_or(" (detached)".to_string(), |b| format!(" on {b}"));
        let dirty = if git.dirty {
            ", with uncommitted changes"
        } else {
            ""
        };
        rows.push(vec!["git".into(), format!("{commit}{branch}{dirty}")]);
    }
    for (i, line) in dv::rules::report(&version.failed_rules)
        .into_iter()
        .enumerate()
    {
        rows.push(vec![
            if i == 0 {
                "failing".into()
            } else {
                String::new()
            },
            line,
        ]);
    }
    if !version.failed_rules.is_empty() {
        rows.push(vec![
            String::new(),
            "(committed with --allow-failing)".into(),
        ]);
    }
    rows.push(vec![
        "author".into(),
        format!("{} on {}", version.author, version.host),
    ]);
    rows.push(vec!["created".into(), version.created_at.clone()]);
    if let Some(message) = &version.message {
        rows.push(vec!["message".into(), message.clone()]);
    }
    for (i, consumer) in consumers.iter().enumerate() {
        let lock = consumer
            .lock
            .strip_prefix(ws.root())
            .unwrap_or(&consumer.lock)
            .display()
            .to_string();
        rows.push(vec![
            if i == 0 {
                "pinned by".into()
            } else {
                String::new()
            },
            format!("{lock} ({})", consumer.name),
        ]);
    }
    let text = table(&rows);
    if !args.files {
        return ui.out(text);
    }
    // The columns are measured over each distinct tree once (a tree named by many paths is
    // read once), then the rows stream out as the walk finds them.
    let (kind_width, size_width) = fold_distinct(
        ws.trees(),
        &version.tree,
        &mut Default::default(),
        &mut |tree, children: &[(usize, usize)]| {
            let files = tree.entries.iter().filter(|e| e.kind != EntryKind::Tree);
            files
                .map(|e| (e.kind.name().len(), human_bytes(e.size).chars().count()))
                .chain(children.iter().copied())
                .fold((0, 0), |(k, s), (k2, s2)| (k.max(k2), s.max(s2)))
        },
    )?;
    ui.stream(Shape::Human, text + "\n", |out| {
        walk_files(ws.trees(), &version.tree, &mut |file| {
            out(format!(
                "{:kind_width$}  {:size_width$}  {}\n",
                file.kind.name(),
                human_bytes(file.size),
                display_path(&file.path)
            ))
        })
    })
}

/// Prints the code files recorded with a version, verified against their hashes.
fn show_code(
    ui: &Ui,
    ws: &dv::Workspace,
    version: &dv::object::Version,
    json: bool,
) -> Result<(), CliError> {
    if version.code.is_empty() {
        return Err(CliError::user("This version has no recorded code files")
            .hinted("Record them at commit time with --code FILE."));
    }
    let mut contents = Vec::new();
    for code in &version.code {
        contents.push(ws.read_file(&code.blob)?);
    }
    if json {
        let files: Vec<serde_json::Value> = version
            .code
            .iter()
            .zip(&contents)
            .map(|(code, bytes)| {
                serde_json::json!({ "path": code.path, "blob": code.blob, "size": code.size, "text": String::from_utf8_lossy(bytes) })
            })
            .collect();
        return ui.json(&files);
    }
    if let [only] = contents.as_slice() {
        return ui.out_content(only);
    }
    for (code, bytes) in version.code.iter().zip(&contents) {
        ui.out(format!(
            "==> {} ({}) <==\n",
            code.path,
            code.blob.short(SHORT_ID)
        ))?;
        ui.out_content(bytes)?;
    }
    Ok(())
}

fn show_log(
    ui: &Ui,
    ws: &dv::Workspace,
    version: &dv::object::Version,
    json: bool,
) -> Result<(), CliError> {
    let Some(run) = &version.run else {
        return Err(CliError::user(
            "This version was not made by `dv run`: no output was captured",
        )
        .hinted("Make versions with `dv run ... -- COMMAND` to keep their logs."));
    };
    let read = |blob: &dv::id::BlobId| ws.read_file(blob);
    let (stdout, stderr) = (read(&run.stdout.blob)?, read(&run.stderr.blob)?);
    if json {
        return ui.json(&serde_json::json!({
            "stdout": String::from_utf8_lossy(&stdout),
            "stderr": String::from_utf8_lossy(&stderr),
        }));
    }
    ui.out("==> stdout <==\n")?;
    ui.out_content(&stdout)?;
    ui.out("==> stderr <==\n")?;
    ui.out_content(&stderr)
}
