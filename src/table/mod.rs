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
        // Asked of every file a commit lists: the extension is compared without copying the
        // path (a `.` in a directory name leaves a `/` in the "extension", which matches none).
        let ext = path.rsplit_once('.').map(|(_, e)| e)?;
        let is = |name: &str| ext.eq_ignore_ascii_case(name);
        if is("csv") {
            Some(Format::Csv)
        } else if is("tsv") || is("tab") {
            Some(Format::Tsv)
        } else if is("jsonl") || is("ndjson") {
            Some(Format::Jsonl)
        } else if is("parquet") || is("pq") {
            Some(Format::Parquet)
        } else {
            None
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

#[cfg(test)]
mod tests {
    use super::Format;

    /// Formats by the file name's extension, in any case; a dot in a directory name is not one.
    #[test]
    fn formats_by_extension_in_any_case() {
        assert_eq!(Format::of("a/B.CSV"), Some(Format::Csv));
        assert_eq!(Format::of("x.Tab"), Some(Format::Tsv));
        assert_eq!(Format::of("x.NDJSON"), Some(Format::Jsonl));
        assert_eq!(Format::of("part-0.pq"), Some(Format::Parquet));
        assert_eq!(Format::of("data.csv/readme"), None);
        assert_eq!(Format::of("csv"), None);
        assert_eq!(Format::of("x.csvx"), None);
    }
}
