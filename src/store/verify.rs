//! A reader that hashes what it hands out and fails at the end if the content is not what its
//! id promises, so corrupt bytes are never published as good ones.

use std::io::{self, BufRead, Read};

use super::object_file::{Encoding, Header};
use crate::id::Hash;

/// Finds why rebuilt content does not match its id; only called when it does not.
pub(super) type Diagnose = Box<dyn FnOnce() -> Option<String> + Send>;

/// Streams an object's uncompressed content, verifying size and hash.
pub struct VerifiedReader {
    inner: Box<dyn Read + Send>,
    /// Names the damaged part (a chunk, a delta base) when the rebuilt content is wrong.
    diagnose: Option<Diagnose>,
    hasher: blake3::Hasher,
    expected: Hash,
    size: u64,
    seen: u64,
    verified: bool,
}

impl VerifiedReader {
    pub(super) fn new(
        source: impl BufRead + Send + 'static,
        header: Header,
        expected: Hash,
    ) -> io::Result<Self> {
        let inner: Box<dyn Read + Send> = match header.encoding {
            Encoding::Raw => Box::new(source),
            Encoding::Zstd => Box::new(zstd::Decoder::with_buffer(source)?),
            Encoding::Delta | Encoding::Chunks => {
                return Err(super::invalid_data(
                    "its encoding is rebuilt by the store, not streamed",
                ));
            }
        };
        Ok(VerifiedReader {
            inner,
            diagnose: None,
            hasher: blake3::Hasher::new(),
            expected,
            size: header.size,
            seen: 0,
            verified: false,
        })
    }

    /// Verifies content produced by `inner` (a rebuilt delta, a file's chunks).
    pub(super) fn over(
        inner: Box<dyn Read + Send>,
        size: u64,
        expected: Hash,
        diagnose: Diagnose,
    ) -> Self {
        VerifiedReader {
            inner,
            diagnose: Some(diagnose),
            hasher: blake3::Hasher::new(),
            expected,
            size,
            seen: 0,
            verified: false,
        }
    }

    /// The uncompressed size the object's header declares.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Read for VerifiedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.verified {
            return Ok(0);
        }
        let n = self.inner.read(buf).map_err(|e| {
            if e.raw_os_error().is_some() || e.kind() == io::ErrorKind::InvalidData {
                e
            } else {
                super::invalid_data(format!("its compressed payload is damaged ({e})"))
            }
        })?;
        if n == 0 {
            if self.seen != self.size {
                return Err(super::invalid_data(format!(
                    "it holds {} bytes but its header declares {}",
                    self.seen, self.size
                )));
            }
            let actual = Hash::from(self.hasher.finalize());
            if actual != self.expected {
                let cause = self.diagnose.take().and_then(|diagnose| diagnose());
                return Err(super::invalid_data(match cause {
                    Some(cause) => cause,
                    None => format!("its content hashes to {actual}"),
                }));
            }
            self.verified = true;
            return Ok(0);
        }
        self.seen += n as u64;
        if self.seen > self.size {
            return Err(super::invalid_data(format!(
                "it holds more than the {} bytes its header declares",
                self.size
            )));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
