//! Tabular files: which formats dv reads, by extension, and reading Parquet within bounds.
//! Profiles (`profile`) and row diffs (`diff::rows`) both come here, so neither reaches into
//! the other.

#[cfg(feature = "parquet")]
pub mod parquet;
#[cfg(feature = "parquet")]
mod parquet_bounds;

/// The tabular formats dv understands, by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Tsv,
    Jsonl,
    Parquet,
}

impl Format {
    /// The format of a path, if it is tabular.
    pub fn of(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e)?;
        match ext {
            "csv" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

/// Copies a stored blob (verified) to a temporary file, removed when dropped.
pub fn stored_to_temp(
    store: &crate::store::Store,
    path: &str,
    id: &crate::id::Hash,
) -> crate::Result<tempfile::NamedTempFile> {
    let tmp_dir = std::env::temp_dir();
    let mut file = tempfile::Builder::new()
        .prefix("dv-table-")
        .tempfile()
        .map_err(|e| crate::Error::io(&tmp_dir, e))?;
    let mut reader = store.read(crate::store::Kind::Blob, id)?;
    // In 1 MiB writes (a plain copy writes 8 KiB at a time: 44,000 calls for a 360 MB table).
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file.as_file_mut());
    std::io::copy(&mut reader, &mut writer)
        .and_then(|_| std::io::Write::flush(&mut writer))
        .map_err(|e| crate::Error::io(path, e))?;
    drop(writer);
    Ok(file)
}
