//! Descriptor-format sense data: the descriptors after the header, raw and decoded by type.

use super::{Progress, SenseKey};

/// Iterator over the descriptors of descriptor-format sense data; see
/// [`Sense::descriptors`](super::Sense::descriptors).
#[derive(Clone, Debug)]
pub struct Descriptors<'a> {
    pub(super) rest: &'a [u8],
}

impl<'a> Iterator for Descriptors<'a> {
    type Item = RawDescriptor<'a>;

    fn next(&mut self) -> Option<RawDescriptor<'a>> {
        let (&type_code, after_type) = self.rest.split_first()?;
        let Some((&len, body)) = after_type.split_first() else {
            self.rest = &[];
            return Some(RawDescriptor {
                type_code,
                additional_length: None,
                data: &[],
            });
        };
        match body.split_at_checked(usize::from(len)) {
            Some((data, rest)) => {
                self.rest = rest;
                Some(RawDescriptor {
                    type_code,
                    additional_length: Some(len),
                    data,
                })
            }
            None => {
                self.rest = &[];
                Some(RawDescriptor {
                    type_code,
                    additional_length: Some(len),
                    data: body,
                })
            }
        }
    }
}

/// One sense data descriptor as it is: type, additional length and the bytes after the
/// two-byte header.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RawDescriptor<'a> {
    type_code: u8,
    additional_length: Option<u8>,
    data: &'a [u8],
}

impl<'a> RawDescriptor<'a> {
    /// The DESCRIPTOR TYPE.
    pub fn type_code(&self) -> u8 {
        self.type_code
    }

    /// The ADDITIONAL LENGTH field, `None` when the data ended before it.
    pub fn additional_length(&self) -> Option<u8> {
        self.additional_length
    }

    /// The descriptor's bytes after its two-byte header (fewer than the additional length
    /// when truncated).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Whether the sense data ended before this descriptor did.
    pub fn is_truncated(&self) -> bool {
        match self.additional_length {
            Some(len) => self.data.len() < usize::from(len),
            None => true,
        }
    }

    /// The descriptor decoded by type. A known type whose bytes are too few for its format
    /// decodes as [`SenseDescriptor::Other`].
    pub fn decode(&self) -> SenseDescriptor<'a> {
        self.decode_known().unwrap_or(SenseDescriptor::Other {
            type_code: self.type_code,
            data: self.data,
        })
    }

    fn decode_known(&self) -> Option<SenseDescriptor<'a>> {
        let d = self.data;
        Some(match self.type_code {
            0x00 => SenseDescriptor::Information {
                valid: d.first()? & 0x80 != 0,
                information: u64::from_be_bytes(d.get(2..10)?.try_into().ok()?),
            },
            0x01 => {
                SenseDescriptor::CommandSpecific(u64::from_be_bytes(d.get(2..10)?.try_into().ok()?))
            }
            0x02 => SenseDescriptor::SenseKeySpecific(d.get(0..3)?.try_into().ok()?),
            0x03 => SenseDescriptor::FieldReplaceableUnit(*d.get(1)?),
            0x0a => SenseDescriptor::ProgressIndication {
                key: SenseKey::from_nibble(*d.first()?),
                asc: *d.get(1)?,
                ascq: *d.get(2)?,
                progress: Progress(u16::from_be_bytes(d.get(4..6)?.try_into().ok()?)),
            },
            _ => return None,
        })
    }
}

/// A decoded sense data descriptor.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum SenseDescriptor<'a> {
    /// 00h information.
    Information {
        /// The VALID bit (SPC requires it set).
        valid: bool,
        /// The INFORMATION field.
        information: u64,
    },
    /// 01h command-specific information.
    CommandSpecific(u64),
    /// 02h sense-key specific: the three bytes, SKSV in bit 7 of the first (interpret with
    /// [`SenseKeySpecific::decode`](super::SenseKeySpecific::decode)).
    SenseKeySpecific([u8; 3]),
    /// 03h field replaceable unit code.
    FieldReplaceableUnit(u8),
    /// 0Ah another progress indication (of an operation other than the one reported).
    ProgressIndication {
        /// The operation's sense key.
        key: SenseKey,
        /// Its ASC.
        asc: u8,
        /// Its ASCQ.
        ascq: u8,
        /// How far it has come.
        progress: Progress,
    },
    /// Any other type, or a known type with too few bytes.
    Other {
        /// The DESCRIPTOR TYPE.
        type_code: u8,
        /// The bytes after the two-byte header.
        data: &'a [u8],
    },
}
