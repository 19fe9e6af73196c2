//! The source's EXIF as a JPEG result keeps it (`metadata`): all of it with its
//! orientation reset (the pixels are turned upright whatever is kept), only its
//! copyright and artist fields, or none. Other outputs carry none, as Cloudflare's.

use crate::options::Metadata;

/// The EXIF (a raw TIFF block, as decoders give it) to write into the result.
pub(crate) fn kept(exif: Option<Vec<u8>>, metadata: Metadata) -> Option<Vec<u8>> {
    let mut exif = exif?;
    match metadata {
        Metadata::None => None,
        Metadata::Keep => {
            let _ = image::metadata::Orientation::remove_from_exif_chunk(&mut exif);
            Some(exif)
        }
        Metadata::Copyright => copyright_only(exif),
    }
}

/// A new EXIF block holding only the source's copyright and artist fields (`None`
/// when it has neither, or cannot be read).
fn copyright_only(exif: Vec<u8>) -> Option<Vec<u8>> {
    let little_endian = exif.starts_with(b"II");
    let parsed = exif::Reader::new().read_raw(exif).ok()?;
    let fields: Vec<&exif::Field> = parsed
        .fields()
        .filter(|f| f.ifd_num == exif::In::PRIMARY)
        .filter(|f| matches!(f.tag, exif::Tag::Copyright | exif::Tag::Artist))
        .collect();
    if fields.is_empty() {
        return None;
    }
    let mut writer = exif::experimental::Writer::new();
    for f in fields {
        writer.push_field(f);
    }
    let mut out = std::io::Cursor::new(Vec::new());
    writer.write(&mut out, little_endian).ok()?;
    Some(out.into_inner())
}
