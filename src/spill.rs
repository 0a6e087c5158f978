//! Exact answers over more records than memory holds: records are spread over 256 partitions
//! by a key the caller chooses, held in memory up to a bound, then appended to one temporary
//! file per partition; afterwards each partition is read back and worked on by itself (sorted,
//! grouped). Profiles count duplicate rows this way, and row diffs pair rows by key.

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;

/// Partitions records are spread over.
pub const PARTITIONS: usize = 256;

/// A record of fixed size on disk.
pub trait Fixed: Sized + Send {
    const BYTES: usize;
    fn write(&self, out: &mut Vec<u8>);
    fn read(bytes: &[u8]) -> Self;
}

impl Fixed for u64 {
    const BYTES: usize = 8;

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }

    fn read(bytes: &[u8]) -> Self {
        u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
    }
}

/// Records being gathered into partitions.
pub struct Partitions<T> {
    memory: Vec<Vec<T>>,
    held: usize,
    limit: usize,
    prefix: &'static str,
    files: Option<(tempfile::TempDir, Vec<File>)>,
}

impl<T: Fixed> Partitions<T> {
    /// Holds up to `limit` records in memory; spill files are named `prefix…` in the system's
    /// temporary directory (removed when done).
    pub fn new(limit: usize, prefix: &'static str) -> Self {
        Partitions {
            memory: (0..PARTITIONS).map(|_| Vec::new()).collect(),
            held: 0,
            limit,
            prefix,
            files: None,
        }
    }

    /// Adds a record to partition `partition` (taken modulo [`PARTITIONS`]).
    pub fn push(&mut self, partition: usize, record: T) -> std::io::Result<()> {
        self.memory[partition % PARTITIONS].push(record);
        self.held += 1;
        if self.held >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    /// Whether any records went to disk.
    pub fn spilled(&self) -> bool {
        self.files.is_some()
    }

    fn spill(&mut self) -> std::io::Result<()> {
        if self.files.is_none() {
            let dir = tempfile::Builder::new().prefix(self.prefix).tempdir()?;
            let files = (0..PARTITIONS)
                .map(|i| {
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(dir.path().join(i.to_string()))
                })
                .collect::<std::io::Result<Vec<_>>>()?;
            self.files = Some((dir, files));
        }
        let (_, files) = self.files.as_mut().expect("just made");
        let mut bytes = Vec::new();
        for (records, file) in self.memory.iter_mut().zip(files.iter_mut()) {
            bytes.clear();
            for record in records.drain(..) {
                record.write(&mut bytes);
            }
            file.write_all(&bytes)?;
        }
        self.held = 0;
        Ok(())
    }

    /// The partitions, each to be read back on its own. Appends went straight to the files (no
    /// buffer to flush), and they are read back by this process: nothing needs the disk.
    pub fn finish(self) -> Finished<T> {
        let (dir, paths) = match self.files {
            Some((dir, _files)) => {
                let paths = (0..PARTITIONS)
                    .map(|i| Some(dir.path().join(i.to_string())))
                    .collect();
                (Some(dir), paths)
            }
            None => (None, vec![None; PARTITIONS]),
        };
        Finished {
            parts: self
                .memory
                .into_iter()
                .zip(paths)
                .map(|(memory, file)| Part { memory, file })
                .collect(),
            _dir: dir,
        }
    }
}

/// Gathered partitions; their spill files are removed when this is dropped.
pub struct Finished<T> {
    pub parts: Vec<Part<T>>,
    _dir: Option<tempfile::TempDir>,
}

/// One partition: what stayed in memory and what was spilled.
pub struct Part<T> {
    memory: Vec<T>,
    file: Option<PathBuf>,
}

impl<T: Fixed> Part<T> {
    /// Every record of the partition (memory first, then the spilled ones in the order they
    /// were added before).
    pub fn load(&mut self) -> std::io::Result<Vec<T>> {
        let mut records = std::mem::take(&mut self.memory);
        if let Some(path) = self.file.take() {
            let mut bytes = Vec::new();
            File::open(&path)?.read_to_end(&mut bytes)?;
            records.extend(bytes.chunks_exact(T::BYTES).map(T::read));
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_whole_from_memory_and_spill_files() {
        let mut parts = Partitions::<u64>::new(100, "dv-spill-test-");
        for n in 0..1_000u64 {
            parts.push((n % 7) as usize, n).unwrap();
        }
        let mut finished = parts.finish();
        let mut all: Vec<u64> = Vec::new();
        for (i, part) in finished.parts.iter_mut().enumerate() {
            let records = part.load().unwrap();
            assert!(records.iter().all(|n| (n % 7) as usize == i));
            all.extend(records);
        }
        all.sort_unstable();
        assert_eq!(all, (0..1_000).collect::<Vec<_>>());
    }
}
