//! Lines of text in any of India's scripts, measured and drawn.
//!
//! A buyer's name, address or a product's name can be in Devanagari, Tamil, Urdu or any other
//! script of India, with an emoji. No one font has them all, so each grapheme cluster (a letter
//! with its vowel signs and viramas, an emoji sequence) goes to the first font in [`FAMILIES`]
//! that has every character of it, and each run of one font is shaped with rustybuzz, as
//! HarfBuzz would: conjuncts form, a vowel sign like ि is drawn before its consonant, Arabic
//! letters join. The Unicode bidi algorithm puts right-to-left runs (Urdu) in visual order.
//! krilla records which text each glyph stands for (an ActualText span where glyphs and
//! characters do not pair one to one, reversed characters for a right-to-left run), so
//! `pdftotext` returns the text in the order it was typed.
//!
//! A cluster no font has is drawn as `�` from Noto Sans, never as an empty box, and still
//! extracts as the characters it stands for.

use krilla::geom::Point;
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use platform::error::{Error, Result};
use rustybuzz::{BufferClusterLevel, Direction, UnicodeBuffer};
use std::cell::OnceCell;
use std::ops::Range;
use unicode_bidi::{BidiInfo, Level};
use unicode_segmentation::UnicodeSegmentation;

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Weight {
    Regular,
    Bold,
}

macro_rules! font {
    ($file:literal) => {
        include_bytes!(concat!("../../../fonts/", $file)).as_slice()
    };
}

/// Regular and bold of each family, in fallback order. Noto Sans comes first because every
/// label and amount is Latin (and it has ₹). Then the scripts of all 22 languages of the
/// Eighth Schedule (Ol Chiki for Santali, Meetei Mayek for Manipuri); they share no letters,
/// so their order matters only for common signs (the danda ।), which any of them draws
/// alike. Emoji come last: Noto Emoji also maps the digits and `#` (for keycaps), which text
/// takes from Noto Sans. (`common/shop/fonts/README.md` says where each file comes from.)
///
/// Only Latin has a bold face: bold text in another script is drawn in its regular face. The
/// bold faces of the other scripts would add 0.42 MiB to every zip that renders a PDF, which
/// pushes admin-ship past the 10 MB budget; a buyer's name in regular weight reads as well.
/// (Identical `include_bytes!` are stored once, so naming a regular face twice costs nothing.)
const FAMILIES: [(&[u8], &[u8]); 14] = [
    (font!("NotoSans-Regular.ttf"), font!("NotoSans-Bold.ttf")),
    (
        font!("NotoSansDevanagari-Regular.ttf"),
        font!("NotoSansDevanagari-Regular.ttf"),
    ),
    (
        font!("NotoSansBengali-Regular.ttf"),
        font!("NotoSansBengali-Regular.ttf"),
    ),
    (
        font!("NotoSansGurmukhi-Regular.ttf"),
        font!("NotoSansGurmukhi-Regular.ttf"),
    ),
    (
        font!("NotoSansGujarati-Regular.ttf"),
        font!("NotoSansGujarati-Regular.ttf"),
    ),
    (
        font!("NotoSansOriya-Regular.ttf"),
        font!("NotoSansOriya-Regular.ttf"),
    ),
    (
        font!("NotoSansTamil-Regular.ttf"),
        font!("NotoSansTamil-Regular.ttf"),
    ),
    (
        font!("NotoSansTelugu-Regular.ttf"),
        font!("NotoSansTelugu-Regular.ttf"),
    ),
    (
        font!("NotoSansKannada-Regular.ttf"),
        font!("NotoSansKannada-Regular.ttf"),
    ),
    (
        font!("NotoSansMalayalam-Regular.ttf"),
        font!("NotoSansMalayalam-Regular.ttf"),
    ),
    (
        font!("NotoSansOlChiki-Regular.ttf"),
        font!("NotoSansOlChiki-Regular.ttf"),
    ),
    (
        font!("NotoSansMeeteiMayek-Regular.ttf"),
        font!("NotoSansMeeteiMayek-Regular.ttf"),
    ),
    (
        font!("NotoNaskhArabic-Regular.ttf"),
        font!("NotoNaskhArabic-Regular.ttf"),
    ),
    // Monochrome, in one weight: bold text gets the same emoji.
    (
        font!("NotoEmoji-Regular.ttf"),
        font!("NotoEmoji-Regular.ttf"),
    ),
];

/// Noto Emoji's place in `FAMILIES`.
const EMOJI: usize = FAMILIES.len() - 1;

/// What a cluster no font has is drawn as.
const REPLACEMENT: char = '\u{FFFD}';

struct Face {
    bytes: &'static [u8],
    shaper: rustybuzz::Face<'static>,
    /// krilla's handle, made on first use: it hashes the whole file.
    pdf: OnceCell<Font>,
}

/// Every font, parsed once per document.
pub(super) struct Fonts {
    /// `FAMILIES` flattened: regular at `2 * family`, bold at `2 * family + 1`.
    faces: Vec<Face>,
}

/// A run of glyphs from one face, left to right on the page.
struct Run {
    face: usize,
    glyphs: Vec<KrillaGlyph>,
    /// In ems.
    width: f32,
}

/// A line of text shaped and in visual order.
pub(super) struct Shaped {
    runs: Vec<Run>,
}

impl Shaped {
    /// The advance of the whole line at `size`.
    pub(super) fn width(&self, size: f32) -> f32 {
        self.runs.iter().map(|r| r.width).sum::<f32>() * size
    }
}

/// Characters a font may lack without the text losing anything visible: joiners, variation
/// selectors, bidi marks. The shaper hides them.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{E0000}'..='\u{E0FFF}')
}

impl Fonts {
    pub(super) fn new() -> Result<Fonts> {
        let faces = FAMILIES
            .iter()
            .flat_map(|&(regular, bold)| [regular, bold])
            .map(|bytes| {
                let shaper = rustybuzz::Face::from_slice(bytes, 0).ok_or_else(|| {
                    Error::Internal(anyhow::anyhow!("an invoice font cannot be read"))
                })?;
                Ok(Face {
                    bytes,
                    shaper,
                    pdf: OnceCell::new(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Fonts { faces })
    }

    /// The faces of one weight, in fallback order.
    fn chain(weight: Weight) -> impl Iterator<Item = usize> {
        let bold = usize::from(weight == Weight::Bold);
        (0..FAMILIES.len()).map(move |f| 2 * f + bold)
    }

    fn covers(&self, face: usize, cluster: &str) -> bool {
        let shaper = &self.faces[face].shaper;
        cluster
            .chars()
            .all(|c| invisible(c) || shaper.glyph_index(c).is_some())
    }

    /// The face that draws `cluster`; `None` when no face has all of it. Spaces, digits and
    /// punctuation stay in the face of the letters before them, so a name in one script is
    /// one run, shaped as a whole (but not after an emoji: Noto Emoji's digits are keycaps).
    fn face_for(&self, cluster: &str, weight: Weight, previous: Option<usize>) -> Option<usize> {
        if let Some(p) = previous.filter(|&p| p / 2 != EMOJI) {
            if !cluster.chars().any(char::is_alphabetic) && self.covers(p, cluster) {
                return Some(p);
            }
        }
        Fonts::chain(weight).find(|&f| self.covers(f, cluster))
    }

    /// `text` as runs of one face each, in the order they are drawn left to right.
    pub(super) fn shape(&self, text: &str, weight: Weight) -> Shaped {
        let mut runs = Vec::new();
        // Documents read left to right; an Urdu name is a right-to-left run within that.
        let bidi = BidiInfo::new(text, Some(Level::ltr()));
        for para in &bidi.paragraphs {
            let (levels, visual) = bidi.visual_runs(para, para.range.clone());
            for range in visual {
                let rtl = levels[range.start].is_rtl();
                let mut pieces = self.split_by_face(text, range, weight);
                if rtl {
                    pieces.reverse();
                }
                runs.extend(
                    pieces
                        .into_iter()
                        .map(|(face, r)| self.shape_run(text, r, face, weight, rtl)),
                );
            }
        }
        Shaped { runs }
    }

    /// Consecutive clusters of `text[range]` drawn by the same face, merged.
    fn split_by_face(
        &self,
        text: &str,
        range: Range<usize>,
        weight: Weight,
    ) -> Vec<(Option<usize>, Range<usize>)> {
        let mut pieces: Vec<(Option<usize>, Range<usize>)> = Vec::new();
        for (offset, cluster) in text[range.clone()].grapheme_indices(true) {
            let start = range.start + offset;
            let end = start + cluster.len();
            let previous = pieces.last().and_then(|(f, _)| *f);
            let face = self.face_for(cluster, weight, previous);
            match pieces.last_mut() {
                // Unknown clusters stay one apiece: each is one replacement glyph.
                Some((f, r)) if *f == face && face.is_some() => r.end = end,
                _ => pieces.push((face, start..end)),
            }
        }
        pieces
    }

    fn shape_run(
        &self,
        text: &str,
        range: Range<usize>,
        face: Option<usize>,
        weight: Weight,
        rtl: bool,
    ) -> Run {
        let Some(face) = face else {
            return self.replacement(range, weight);
        };
        let shaper = &self.faces[face].shaper;
        let upem = shaper.units_per_em() as f32;
        let mut buffer = UnicodeBuffer::new();
        buffer.push_str(&text[range.clone()]);
        if rtl {
            buffer.set_direction(Direction::RightToLeft);
            // A mark (ّ, a vowel point) its own cluster, not merged with its letter: then no
            // glyph stands for text out of order, and krilla writes the run as reversed
            // characters without ActualText spans, which pdftotext turns back into the
            // order the name was typed in (with spans it jumbles marks and letters).
            buffer.set_cluster_level(BufferClusterLevel::MonotoneCharacters);
        } else {
            buffer.set_direction(Direction::LeftToRight);
        }
        buffer.guess_segment_properties();
        let shaped = rustybuzz::shape(shaper, &[], buffer);
        // Clusters are byte offsets into the run, monotone in the text (HarfBuzz's default
        // cluster level), so a cluster's text ends where the next larger one starts.
        let mut starts: Vec<usize> = shaped
            .glyph_infos()
            .iter()
            .map(|i| i.cluster as usize)
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let end_of = |start: usize| {
            let next = starts.partition_point(|&s| s <= start);
            starts.get(next).copied().unwrap_or(range.len())
        };
        let glyphs: Vec<KrillaGlyph> = shaped
            .glyph_infos()
            .iter()
            .zip(shaped.glyph_positions())
            .map(|(info, pos)| {
                let start = info.cluster as usize;
                KrillaGlyph::new(
                    GlyphId::new(info.glyph_id),
                    pos.x_advance as f32 / upem,
                    pos.x_offset as f32 / upem,
                    pos.y_offset as f32 / upem,
                    pos.y_advance as f32 / upem,
                    range.start + start..range.start + end_of(start),
                    None,
                )
            })
            .collect();
        let width = glyphs.iter().map(|g| g.x_advance).sum();
        Run {
            face,
            glyphs,
            width,
        }
    }

    /// One `�` for a cluster no font has; it extracts as the cluster's own text.
    fn replacement(&self, range: Range<usize>, weight: Weight) -> Run {
        let face = Fonts::chain(weight).next().expect("there are fonts");
        let shaper = &self.faces[face].shaper;
        let glyph = shaper.glyph_index(REPLACEMENT).unwrap_or_default();
        let advance = f32::from(shaper.glyph_hor_advance(glyph).unwrap_or_default())
            / shaper.units_per_em() as f32;
        Run {
            face,
            glyphs: vec![KrillaGlyph::new(
                GlyphId::new(u32::from(glyph.0)),
                advance,
                0.0,
                0.0,
                0.0,
                range,
                None,
            )],
            width: advance,
        }
    }

    pub(super) fn width(&self, text: &str, size: f32, weight: Weight) -> f32 {
        self.shape(text, weight).width(size)
    }

    /// Draws `text` with its left end at `x` and its baseline at `y`.
    pub(super) fn draw(
        &self,
        surface: &mut Surface<'_>,
        at: Point,
        size: f32,
        weight: Weight,
        text: &str,
    ) -> Result<()> {
        let mut x = at.x;
        for run in self.shape(text, weight).runs {
            let face = &self.faces[run.face];
            let font = match face.pdf.get() {
                Some(f) => f.clone(),
                None => {
                    let f = Font::new(face.bytes.into(), 0).ok_or_else(|| {
                        Error::Internal(anyhow::anyhow!("an invoice font cannot be read"))
                    })?;
                    face.pdf.get_or_init(|| f).clone()
                }
            };
            surface.draw_glyphs(
                Point::from_xy(x, at.y),
                &run.glyphs,
                font,
                text,
                size,
                false,
            );
            x += run.width * size;
        }
        Ok(())
    }

    /// Whether some font draws every character of `text` (none falls back to `�`).
    #[cfg(test)]
    pub(super) fn draws_all_of(&self, text: &str, weight: Weight) -> bool {
        text.graphemes(true)
            .all(|c| self.face_for(c, weight, None).is_some())
    }
}

/// Splits `text` before grapheme clusters: where a word too long for its line may break
/// without parting a vowel sign or virama from its consonant.
pub(super) fn clusters(text: &str) -> impl Iterator<Item = &str> {
    text.graphemes(true)
}
