//! A reader that hashes what it hands out and fails at the end if the content is not what its
//! id promises, so corrupt bytes are never published as good ones.

use std::io::{self, BufRead, Read};

use super::object_file::{Encoding, Header};
use crate::id::Hash;

/// Streams an object's uncompressed content, verifying size and hash.
pub struct VerifiedReader {
    inner: Box<dyn Read + Send>,
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
        };
        Ok(VerifiedReader {
            inner,
            hasher: blake3::Hasher::new(),
            expected,
            size: header.size,
            seen: 0,
            verified: false,
        })
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
        let n = self.inner.read(buf).map_err(|e| match e.raw_os_error() {
            Some(_) => e,
            None => super::invalid_data(format!("its compressed payload is damaged ({e})")),
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
                return Err(super::invalid_data(format!(
                    "its content hashes to {actual}"
                )));
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
