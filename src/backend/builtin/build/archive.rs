//! ADD's local tar archives: recognized by content (plain, gzip, zstd); the image store's
//! unpacker (`image::unpack`, `As::Add`) unpacks them inside the destination directory.

use std::fs::File;
use std::io::{self, Read, Seek};


/// A reader of the tar archive in `file` (plain, gzip or zstd), or None when the file
/// is not one (ADD then copies it as is).
pub fn reader(mut file: File) -> Result<Option<Box<dyn Read>>, String> {
    let mut magic = [0u8; 6];
    let n = file.read(&mut magic).map_err(|e| e.to_string())?;
    let rewind = |mut f: File| f.rewind().map(|()| f).map_err(|e| e.to_string());
    let decoded: Box<dyn Read> = match &magic[..n] {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::GzDecoder::new(rewind(file)?)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Box::new(zstd::stream::read::Decoder::new(rewind(file)?).map_err(|e| e.to_string())?),
        [b'B', b'Z', b'h', ..] | [0xfd, b'7', b'z', b'X', b'Z', 0] => {
            return Err("bzip2 and xz archives are not supported by the built-in builder; use a plain or gzip tar".into());
        }
        _ => Box::new(rewind(file)?),
    };
    // A tar has "ustar" at offset 257 of its first header.
    let mut head = [0u8; 512];
    let mut decoded = decoded;
    let is_tar = decoded.read_exact(&mut head).is_ok() && &head[257..262] == b"ustar";
    Ok(is_tar.then(|| Box::new(io::Cursor::new(head).chain(decoded)) as Box<dyn Read>))
}
