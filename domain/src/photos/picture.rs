//! What a photo's bytes are, and the same photo without what it says of where and when it was
//! taken: pure, no I/O.
//!
//! The format is read from the bytes (a browser's `Content-Type` may say `image/jpeg` for a
//! HEIC, or nothing useful). Unless the reporter asks to keep it:
//! - **JPEG**: every application segment but JFIF (APP0), the colour profile (APP2) and
//!   Adobe's (APP14), and comments, are dropped; the Exif segment (GPS position, time, camera
//!   serial) is replaced by one holding only the orientation, so the photo still stands up.
//!   The image data is copied unchanged (no re-encoding, no loss).
//! - **PNG**: the `eXIf`, `tEXt`, `zTXt`, `iTXt` and `tIME` chunks are dropped.
//! - **HEIC/HEIF** (what iPhones take): the Exif and XMP items are overwritten with zeros where
//!   the file's item locations say they are, so the file keeps its layout and readers find no
//!   metadata. A file whose items cannot be read is refused rather than kept with its place.
//!
//! JPEG and PNG are decoded (which proves they are images: a file that does not decode is
//! refused) into a thumbnail at most [`THUMBNAIL_PX`] on its longer side, turned upright, as
//! JPEG. HEIC is stored without a thumbnail: decoding HEVC needs a codec this build does not
//! carry, and the client shows a placeholder.

use std::io::Cursor;

/// Longest side of a thumbnail, px.
pub const THUMBNAIL_PX: u32 = 320;
/// Largest image decoded for a thumbnail (either side, px): more is not a phone's photo.
const MAX_SIDE_PX: u32 = 16_384;
/// Most memory a decode may take (bytes): a small file that claims a vast image is refused.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Heic,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Heic => "image/heic",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PictureError {
    #[error("not a JPEG, PNG or HEIC image")]
    Unknown,
    #[error("the {0} image is damaged: {1}")]
    Damaged(&'static str, String),
}

/// A photo ready to keep.
#[derive(Debug)]
pub struct Prepared {
    pub format: Format,
    pub bytes: Vec<u8>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// JPEG, upright; `None` for HEIC.
    pub thumbnail: Option<Vec<u8>>,
}

/// The format the bytes are in, by their first bytes.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Format::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Format::Png);
    }
    // An ISO base media file whose `ftyp` names a HEIF brand.
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let size = be32(bytes, 0).unwrap_or(0) as usize;
        let brands = bytes.get(8..size.clamp(12, bytes.len()))?;
        let heif = brands.chunks_exact(4).any(|b| {
            matches!(
                b,
                b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1"
            )
        });
        if heif {
            return Some(Format::Heic);
        }
    }
    None
}

/// The photo as it will be kept: checked, its metadata removed unless `keep_location`, and
/// its thumbnail.
pub fn prepare(bytes: &[u8], keep_location: bool) -> Result<Prepared, PictureError> {
    let format = sniff(bytes).ok_or(PictureError::Unknown)?;
    match format {
        Format::Jpeg => {
            let orientation = jpeg_orientation(bytes)?;
            let kept = if keep_location {
                bytes.to_vec()
            } else {
                jpeg_strip(bytes, orientation)?
            };
            let (width, height, thumbnail) = thumbnail(&kept, format, orientation)?;
            Ok(Prepared {
                format,
                bytes: kept,
                width: Some(width),
                height: Some(height),
                thumbnail: Some(thumbnail),
            })
        }
        Format::Png => {
            let kept = if keep_location {
                bytes.to_vec()
            } else {
                png_strip(bytes)?
            };
            let (width, height, thumbnail) = thumbnail(&kept, format, None)?;
            Ok(Prepared {
                format,
                bytes: kept,
                width: Some(width),
                height: Some(height),
                thumbnail: Some(thumbnail),
            })
        }
        Format::Heic => {
            let mut kept = bytes.to_vec();
            if !keep_location {
                heif_blank_metadata(&mut kept)?;
            }
            Ok(Prepared {
                format,
                bytes: kept,
                width: None,
                height: None,
                thumbnail: None,
            })
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// A big-endian 32-bit (`wide`) or 16-bit number at `*at`, moving `at` past it.
fn be_u16_or_u32(b: &[u8], at: &mut usize, wide: bool) -> Option<u32> {
    let n = if wide {
        be32(b, *at)?
    } else {
        u32::from(be16(b, *at)?)
    };
    *at += if wide { 4 } else { 2 };
    Some(n)
}

/// A big-endian unsigned number of `n` bytes (0, 4 or 8, as ISO BMFF sizes them).
fn be_n(b: &[u8], at: usize, n: usize) -> Option<u64> {
    match n {
        0 => Some(0),
        4 => be32(b, at).map(u64::from),
        8 => be64(b, at),
        _ => None,
    }
}

fn damaged(format: &'static str, why: &str) -> PictureError {
    PictureError::Damaged(format, why.to_owned())
}

/// A JPEG segment: its marker, where it starts and where it ends.
type Segment = (u8, usize, usize);

/// The JPEG's segments before its image data, and where that data starts.
fn jpeg_segments(bytes: &[u8]) -> Result<(Vec<Segment>, usize), PictureError> {
    let bad = |why| damaged("JPEG", why);
    let mut at = 2;
    let mut segments = Vec::new();
    loop {
        if bytes.get(at) != Some(&0xFF) {
            return Err(bad("a segment does not start with 0xFF"));
        }
        // Fill bytes: any number of 0xFF before the marker.
        let mut m = at + 1;
        while bytes.get(m) == Some(&0xFF) {
            m += 1;
        }
        let marker = *bytes
            .get(m)
            .ok_or_else(|| bad("it ends before its image data"))?;
        if marker == 0xD9 {
            return Err(bad("it ends before its image data"));
        }
        // Markers without a length.
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            at = m + 1;
            continue;
        }
        let len = usize::from(be16(bytes, m + 1).ok_or_else(|| bad("a segment is cut off"))?);
        let end = m + 1 + len;
        if len < 2 || end > bytes.len() {
            return Err(bad("a segment is cut off"));
        }
        if marker == 0xDA {
            // Start of scan: the image data follows, kept as it is.
            return Ok((segments, at));
        }
        segments.push((marker, at, end));
        at = end;
    }
}

/// The orientation (1–8) an Exif segment gives, if any.
fn jpeg_orientation(bytes: &[u8]) -> Result<Option<u16>, PictureError> {
    let (segments, _) = jpeg_segments(bytes)?;
    Ok(segments
        .iter()
        .filter(|(marker, _, _)| *marker == 0xE1)
        .find_map(|&(_, start, end)| exif_orientation(&bytes[start + 4..end])))
}

/// Orientation tag 0x0112 of IFD0 in an Exif payload (`Exif\0\0` and a TIFF file).
fn exif_orientation(payload: &[u8]) -> Option<u16> {
    let tiff = payload.strip_prefix(b"Exif\0\0")?;
    let big = match tiff.get(0..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(at..at + 2)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    let count = usize::from(u16_at(ifd)?);
    (0..count).find_map(|i| {
        let entry = ifd + 2 + i * 12;
        (u16_at(entry)? == 0x0112 && u16_at(entry + 2)? == 3)
            .then(|| u16_at(entry + 8))
            .flatten()
            .filter(|o| (1..=8).contains(o))
    })
}

/// An APP1 segment holding only an Exif orientation.
fn orientation_segment(orientation: u16) -> Vec<u8> {
    let mut payload = Vec::with_capacity(32);
    payload.extend_from_slice(b"Exif\0\0MM\0\x2a\0\0\0\x08");
    payload.extend_from_slice(&1u16.to_be_bytes()); // one entry
    payload.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    payload.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    payload.extend_from_slice(&1u32.to_be_bytes()); // one value
    payload.extend_from_slice(&orientation.to_be_bytes());
    payload.extend_from_slice(&[0, 0]);
    payload.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    segment.extend_from_slice(&payload);
    segment
}

/// The JPEG without its metadata segments; the orientation kept in an Exif of its own.
fn jpeg_strip(bytes: &[u8], orientation: Option<u16>) -> Result<Vec<u8>, PictureError> {
    let (segments, scan) = jpeg_segments(bytes)?;
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..2]);
    let mut placed = false;
    for (marker, start, end) in segments {
        let keep = !matches!(marker, 0xE1 | 0xE3..=0xED | 0xEF | 0xFE);
        // The orientation goes right after JFIF's APP0 (which must come first), or first.
        if !placed && marker != 0xE0 {
            if let Some(o) = orientation {
                out.extend_from_slice(&orientation_segment(o));
            }
            placed = true;
        }
        if keep {
            out.extend_from_slice(&bytes[start..end]);
        }
    }
    if !placed && let Some(o) = orientation {
        out.extend_from_slice(&orientation_segment(o));
    }
    out.extend_from_slice(&bytes[scan..]);
    Ok(out)
}

/// The PNG without its text, time and Exif chunks.
fn png_strip(bytes: &[u8]) -> Result<Vec<u8>, PictureError> {
    let bad = |why| damaged("PNG", why);
    let mut out = bytes[..8].to_vec();
    let mut at = 8;
    while at < bytes.len() {
        let len = be32(bytes, at).ok_or_else(|| bad("a chunk is cut off"))? as usize;
        let end = at
            .checked_add(12)
            .and_then(|e| e.checked_add(len))
            .filter(|e| *e <= bytes.len())
            .ok_or_else(|| bad("a chunk is cut off"))?;
        let kind = &bytes[at + 4..at + 8];
        if !matches!(kind, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME") {
            out.extend_from_slice(&bytes[at..end]);
        }
        at = end;
        if kind == b"IEND" {
            break;
        }
    }
    Ok(out)
}

/// An ISO BMFF box: its type, where its content starts and where it ends.
type BmffBox = ([u8; 4], usize, usize);

/// The boxes inside `range` of `b`.
fn boxes(b: &[u8], range: std::ops::Range<usize>) -> Option<Vec<BmffBox>> {
    let mut out = Vec::new();
    let mut at = range.start;
    while at + 8 <= range.end {
        let size = be32(b, at)? as usize;
        let kind: [u8; 4] = b.get(at + 4..at + 8)?.try_into().ok()?;
        let (header, size) = match size {
            0 => (8, range.end - at),
            1 => (16, usize::try_from(be64(b, at + 8)?).ok()?),
            s => (8, s),
        };
        let end = at.checked_add(size)?;
        if size < header || end > range.end {
            return None;
        }
        out.push((kind, at + header, end));
        at = end;
    }
    Some(out)
}

/// Overwrites the HEIF's Exif and XMP items with zeros.
fn heif_blank_metadata(bytes: &mut [u8]) -> Result<(), PictureError> {
    let extents = heif_metadata_extents(bytes).ok_or_else(|| {
        damaged(
            "HEIC",
            "its item table cannot be read, so its location cannot be removed",
        )
    })?;
    for (start, end) in extents {
        bytes[start..end].fill(0);
    }
    Ok(())
}

/// Where (file ranges) the HEIF's Exif and XMP items lie.
fn heif_metadata_extents(b: &[u8]) -> Option<Vec<(usize, usize)>> {
    let top = boxes(b, 0..b.len())?;
    let &(_, meta_start, meta_end) = top.iter().find(|(k, _, _)| k == b"meta")?;
    // `meta` is a full box: version and flags first.
    let children = boxes(b, meta_start + 4..meta_end)?;
    let find = |kind: &[u8; 4]| children.iter().find(|(k, _, _)| k == kind).copied();

    // Item ids of Exif and XMP (`mime` items of type application/rdf+xml).
    let mut wanted = Vec::new();
    if let Some((_, start, end)) = find(b"iinf") {
        let version = *b.get(start)?;
        let first = if version == 0 { start + 6 } else { start + 8 };
        for (kind, s, e) in boxes(b, first..end)? {
            if &kind != b"infe" {
                continue;
            }
            let v = *b.get(s)?;
            if v < 2 {
                continue;
            }
            let (id, after) = if v == 2 {
                (u32::from(be16(b, s + 4)?), s + 6)
            } else {
                (be32(b, s + 4)?, s + 8)
            };
            let item_type = b.get(after + 2..after + 6)?;
            let content = b.get(after + 6..e)?;
            let xmp = item_type == b"mime"
                && content
                    .split(|c| *c == 0)
                    .next()
                    .is_some_and(|t| t == b"application/rdf+xml");
            if item_type == b"Exif" || xmp {
                wanted.push(id);
            }
        }
    }
    if wanted.is_empty() {
        return Some(Vec::new());
    }
    let idat = find(b"idat").map(|(_, s, e)| (s, e));
    let (_, start, end) = find(b"iloc")?;
    let version = *b.get(start)?;
    let mut at = start + 4;
    let sizes = *b.get(at)?;
    let more = *b.get(at + 1)?;
    let (offset_size, length_size) = (usize::from(sizes >> 4), usize::from(sizes & 15));
    let base_offset_size = usize::from(more >> 4);
    let index_size = if version >= 1 {
        usize::from(more & 15)
    } else {
        0
    };
    at += 2;
    // Item counts and ids are 16-bit before version 2, 32-bit from it.
    let wide = version >= 2;
    let count = be_u16_or_u32(b, &mut at, wide)?;
    let mut extents = Vec::new();
    for _ in 0..count {
        let id = be_u16_or_u32(b, &mut at, wide)?;
        let method = if version >= 1 {
            let m = be16(b, at)? & 15;
            at += 2;
            m
        } else {
            0
        };
        at += 2; // data reference index
        let base = be_n(b, at, base_offset_size)?;
        at += base_offset_size;
        let n = be16(b, at)?;
        at += 2;
        for _ in 0..n {
            at += index_size;
            let offset = be_n(b, at, offset_size)?;
            at += offset_size;
            let length = be_n(b, at, length_size)?;
            at += length_size;
            if !wanted.contains(&id) {
                continue;
            }
            let (origin, limit) = match method {
                0 => (0, b.len()),
                1 => idat?,
                // Items built from other items hold no bytes of their own.
                _ => continue,
            };
            let from = usize::try_from(base.checked_add(offset)?)
                .ok()?
                .checked_add(origin)?;
            // Length 0: to the end of the file (or the idat).
            let to = if length == 0 {
                limit
            } else {
                from.checked_add(usize::try_from(length).ok()?)?
            };
            if to > limit || from > to {
                return None;
            }
            extents.push((from, to));
        }
    }
    if at > end {
        return None;
    }
    Some(extents)
}

/// Width, height and an upright JPEG thumbnail of a JPEG or PNG.
fn thumbnail(
    bytes: &[u8],
    format: Format,
    orientation: Option<u16>,
) -> Result<(u32, u32, Vec<u8>), PictureError> {
    let (name, image_format) = match format {
        Format::Jpeg => ("JPEG", image::ImageFormat::Jpeg),
        Format::Png => ("PNG", image::ImageFormat::Png),
        Format::Heic => return Err(PictureError::Unknown),
    };
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE_PX);
    limits.max_image_height = Some(MAX_SIDE_PX);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| PictureError::Damaged(name, e.to_string()))?;
    let (width, height) = (decoded.width(), decoded.height());
    // Smaller photos are kept at their size, not blown up.
    let mut small = if width.max(height) > THUMBNAIL_PX {
        decoded.thumbnail(THUMBNAIL_PX, THUMBNAIL_PX)
    } else {
        decoded
    };
    if let Some(o) = orientation.and_then(|o| u8::try_from(o).ok())
        && let Some(o) = image::metadata::Orientation::from_exif(o)
    {
        small.apply_orientation(o);
    }
    let rgb = image::DynamicImage::ImageRgb8(small.to_rgb8());
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&rgb)
        .map_err(|e| PictureError::Damaged(name, e.to_string()))?;
    Ok((width, height, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 40×20 JPEG as a camera writes it: JFIF, then an Exif with an orientation of 6 and a
    /// GPS position, a comment, then the image.
    fn camera_jpeg() -> Vec<u8> {
        let img = image::RgbImage::from_fn(40, 20, |x, _| image::Rgb([(x * 6) as u8, 90, 30]));
        let mut plain = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)
            .encode_image(&img)
            .unwrap();
        // Exif, little-endian: IFD0 with Orientation = 6 and a GPS IFD pointer; the GPS IFD
        // with latitude ref "N" and a marker string to find.
        let mut tiff: Vec<u8> = b"II\x2a\0\x08\0\0\0".to_vec();
        tiff.extend_from_slice(&2u16.to_le_bytes());
        tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]);
        tiff.extend_from_slice(&[0x25, 0x88, 4, 0, 1, 0, 0, 0, 38, 0, 0, 0]);
        tiff.extend_from_slice(&0u32.to_le_bytes());
        tiff.extend_from_slice(&1u16.to_le_bytes());
        tiff.extend_from_slice(&[0x01, 0x00, 2, 0, 2, 0, 0, 0, b'N', 0, 0, 0]);
        tiff.extend_from_slice(&0u32.to_le_bytes());
        tiff.extend_from_slice(b"GPS 24.3497N 102.4705E");
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
        app1.extend_from_slice(b"Exif\0\0");
        app1.extend_from_slice(&tiff);
        let comment = b"\xFF\xFE\x00\x0Ctaken here";
        // After SOI and APP0 (JFIF, 18 bytes from the encoder).
        let app0_end = 2 + 2 + usize::from(be16(&plain, 4).unwrap());
        let mut out = plain[..app0_end].to_vec();
        out.extend_from_slice(&app1);
        out.extend_from_slice(comment);
        out.extend_from_slice(&plain[app0_end..]);
        out
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_jpeg_loses_its_position_and_comment_but_keeps_its_image_and_orientation() {
        let photo = camera_jpeg();
        assert!(contains(&photo, b"GPS 24.3497N"));
        let kept = prepare(&photo, false).unwrap();
        assert_eq!(kept.format, Format::Jpeg);
        assert!(!contains(&kept.bytes, b"GPS 24.3497N"));
        assert!(!contains(&kept.bytes, b"taken here"));
        assert_eq!(jpeg_orientation(&kept.bytes).unwrap(), Some(6));
        // The image data is the same bytes, and still decodes to the same size.
        let scan = |b: &[u8]| b[jpeg_segments(b).unwrap().1..].to_vec();
        assert_eq!(scan(&kept.bytes), scan(&photo));
        let decoded = image::load_from_memory(&kept.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (40, 20));
        assert_eq!((kept.width, kept.height), (Some(40), Some(20)));
        // The thumbnail is upright: orientation 6 turns 40×20 into 20×40.
        let thumb = image::load_from_memory(kept.thumbnail.as_ref().unwrap()).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (20, 40));
        // Asked to, it keeps everything.
        assert_eq!(prepare(&photo, true).unwrap().bytes, photo);
    }

    #[test]
    fn a_png_loses_its_text_and_exif_chunks() {
        let img = image::RgbaImage::from_pixel(600, 300, image::Rgba([1, 2, 3, 255]));
        let mut plain = Vec::new();
        image::DynamicImage::ImageRgba8(img)
            .write_to(&mut Cursor::new(&mut plain), image::ImageFormat::Png)
            .unwrap();
        // A tEXt chunk after IHDR (8 + 25 bytes), CRC unchecked by the stripper.
        let text = b"Location\0Yuxi 24.35N";
        let mut chunk = (text.len() as u32).to_be_bytes().to_vec();
        chunk.extend_from_slice(b"tEXt");
        chunk.extend_from_slice(text);
        chunk.extend_from_slice(&[0, 0, 0, 0]);
        let mut photo = plain[..33].to_vec();
        photo.extend_from_slice(&chunk);
        photo.extend_from_slice(&plain[33..]);
        let kept = prepare(&photo, false).unwrap();
        assert_eq!(kept.bytes, plain);
        let thumb = image::load_from_memory(kept.thumbnail.as_ref().unwrap()).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (320, 160));
    }

    /// A HEIF skeleton: ftyp, meta (iinf with an Exif and a picture item, iloc), and mdat
    /// holding the Exif item's bytes and the picture's.
    fn heif(exif: &[u8]) -> Vec<u8> {
        fn boxed(kind: &[u8; 4], content: &[u8]) -> Vec<u8> {
            let mut b = ((content.len() + 8) as u32).to_be_bytes().to_vec();
            b.extend_from_slice(kind);
            b.extend_from_slice(content);
            b
        }
        let ftyp = boxed(b"ftyp", b"heic\0\0\0\0mif1heic");
        let infe = |id: u16, kind: &[u8; 4]| {
            let mut c = vec![2, 0, 0, 0];
            c.extend_from_slice(&id.to_be_bytes());
            c.extend_from_slice(&[0, 0]);
            c.extend_from_slice(kind);
            c.push(0);
            boxed(b"infe", &c)
        };
        let mut iinf = vec![0, 0, 0, 0, 0, 2];
        iinf.extend(infe(1, b"hvc1"));
        iinf.extend(infe(2, b"Exif"));
        let iinf = boxed(b"iinf", &iinf);
        let picture = b"HEVC-PICTURE-DATA".to_vec();
        // iloc v0, offsets and lengths of 4 bytes, no base offset; filled in below.
        let iloc_len = 8 + 4 + 2 + 2 + 2 * (2 + 2 + 2 + 8);
        let hdlr = boxed(b"hdlr", b"\0\0\0\0\0\0\0\0pict\0\0\0\0\0\0\0\0\0\0\0\0\0");
        let meta_len = 8 + 4 + hdlr.len() + iinf.len() + iloc_len;
        let mdat_content_start = ftyp.len() + meta_len + 8;
        let mut iloc = vec![0, 0, 0, 0, 0x44, 0x00];
        iloc.extend_from_slice(&2u16.to_be_bytes());
        for (id, offset, len) in [
            (1u16, mdat_content_start, picture.len()),
            (2u16, mdat_content_start + picture.len(), exif.len()),
        ] {
            iloc.extend_from_slice(&id.to_be_bytes());
            iloc.extend_from_slice(&[0, 0]);
            iloc.extend_from_slice(&1u16.to_be_bytes());
            iloc.extend_from_slice(&(offset as u32).to_be_bytes());
            iloc.extend_from_slice(&(len as u32).to_be_bytes());
        }
        let iloc = boxed(b"iloc", &iloc);
        assert_eq!(iloc.len(), iloc_len);
        let mut meta = vec![0, 0, 0, 0];
        meta.extend(hdlr);
        meta.extend(iinf);
        meta.extend(iloc);
        let meta = boxed(b"meta", &meta);
        let mut mdat = picture.clone();
        mdat.extend_from_slice(exif);
        let mut file = ftyp;
        file.extend(meta);
        file.extend(boxed(b"mdat", &mdat));
        file
    }

    #[test]
    fn a_heic_keeps_its_picture_and_loses_its_exif_item() {
        let exif = b"\0\0\0\0Exif\0\0MM\0\x2aGPS 24.3497N 102.4705E";
        let photo = heif(exif);
        assert_eq!(sniff(&photo), Some(Format::Heic));
        let kept = prepare(&photo, false).unwrap();
        assert_eq!(kept.bytes.len(), photo.len());
        assert!(!contains(&kept.bytes, b"GPS 24.3497N"));
        assert!(contains(&kept.bytes, b"HEVC-PICTURE-DATA"));
        assert!(kept.thumbnail.is_none());
        assert_eq!(prepare(&photo, true).unwrap().bytes, photo);
        // An item table that points outside the file is refused, not kept with its place.
        let mut broken = photo.clone();
        broken.truncate(photo.len() - 10);
        assert!(matches!(
            prepare(&broken, false),
            Err(PictureError::Damaged("HEIC", _))
        ));
    }

    #[test]
    fn what_is_not_an_image_or_is_damaged_is_refused() {
        assert_eq!(sniff(b"%PDF-1.7"), None);
        assert_eq!(
            prepare(b"GIF89a....", false).unwrap_err(),
            PictureError::Unknown
        );
        let mut cut = camera_jpeg();
        cut.truncate(60);
        assert!(matches!(
            prepare(&cut, false),
            Err(PictureError::Damaged("JPEG", _))
        ));
        // A PNG header claiming a 100,000 px wide image is refused before it is decoded.
        let mut huge = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        huge.extend_from_slice(&100_000u32.to_be_bytes());
        huge.extend_from_slice(&100_000u32.to_be_bytes());
        huge.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        huge.extend_from_slice(b"\0\0\0\0IEND\xae\x42\x60\x82");
        assert!(matches!(
            prepare(&huge, false),
            Err(PictureError::Damaged("PNG", _))
        ));
    }
}
