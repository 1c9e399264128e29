//! Invoices and credit notes as A4 PDFs.
//!
//! Drawn with krilla (the typst project's PDF writer): it subsets and embeds TrueType fonts
//! with a ToUnicode map, so a viewer shows `₹` and a buyer's name in Tamil without the fonts
//! installed, the file stays a few tens of kilobytes, and `pdftotext` (and an accountant's
//! copy-paste) gets the text back. The fonts are Noto, one per script of India (committed
//! under `common/shop/fonts/` with their licence); `text` picks one per character and shapes.
//!
//! Layout is done here with fixed columns: a document has at most a cart's worth of rows,
//! and a fixed grid is what accountants expect to see on a tax invoice.

use super::{CreditNote, Invoice, Line, Party, Totals};
use crate::tax::GstState;
use crate::vocabulary::money::Paise;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::Document;
use platform::error::{Error, Result};
use text::{Fonts, Weight};

mod text;

/// A4 in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 36.0;
const BODY: f32 = 9.0;
const SMALL: f32 = 7.5;

/// Which of the two documents is being drawn.
enum Kind<'a> {
    Invoice(&'a Invoice),
    CreditNote(&'a CreditNote),
}

/// The invoice as a PDF.
pub fn invoice(inv: &Invoice) -> Result<Vec<u8>> {
    render(Kind::Invoice(inv))
}

/// The credit note as a PDF.
pub fn credit_note(note: &CreditNote) -> Result<Vec<u8>> {
    render(Kind::CreditNote(note))
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// One thing drawn on a page, collected first so pages can break before any is drawn.
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        weight: Weight,
        text: String,
    },
    Rule {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
    },
    Shade {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
}

/// Greedy word wrap to `width`; a word longer than a line is broken between grapheme
/// clusters.
fn wrap(fonts: &Fonts, text: &str, size: f32, weight: Weight, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let candidate = if current.is_empty() {
            word.to_owned()
        } else {
            format!("{current} {word}")
        };
        if fonts.width(&candidate, size, weight) <= width {
            current = candidate;
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        let mut piece = String::new();
        for cluster in text::clusters(word) {
            let before = piece.len();
            piece.push_str(cluster);
            if fonts.width(&piece, size, weight) > width && before > 0 {
                lines.push(piece[..before].to_owned());
                piece.replace_range(..before, "");
            }
        }
        current = piece;
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// Collects ops page by page, with a cursor `y` from the top.
struct Pages {
    fonts: Fonts,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Pages {
    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("there is always a page")
    }

    fn text(&mut self, x: f32, y: f32, size: f32, weight: Weight, text: impl Into<String>) {
        let text = text.into();
        if text.is_empty() {
            return;
        }
        self.ops().push(Op::Text {
            x,
            y,
            size,
            weight,
            text,
        });
    }

    fn text_right(&mut self, right: f32, y: f32, size: f32, weight: Weight, text: &str) {
        let w = self.fonts.width(text, size, weight);
        self.text(right - w, y, size, weight, text);
    }

    fn rule(&mut self, x1: f32, y: f32, x2: f32, width: f32) {
        self.ops().push(Op::Rule {
            x1,
            y1: y,
            x2,
            y2: y,
            width,
        });
    }

    /// Wrapped text from the cursor, moving it down; returns the lines' height.
    fn para(&mut self, x: f32, width: f32, size: f32, weight: Weight, text: &str) -> f32 {
        let lead = size * 1.35;
        let lines = wrap(&self.fonts, text, size, weight, width);
        let start = self.y;
        for l in lines {
            self.y += lead;
            self.text(x, self.y - size * 0.3, size, weight, l);
        }
        self.y - start
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
    }
}

/// `₹1,29,900.00` without the sign, for table cells under a `(₹)` heading.
fn amount(p: Paise) -> String {
    p.format_inr().replacen('₹', "", 1)
}

fn state_text(s: &GstState) -> String {
    format!("{} (code {})", s.name, s.code)
}

/// A table column: heading, width, alignment and the cell of a row.
struct Column {
    head: &'static str,
    width: f32,
    align: Align,
    cell: fn(&Line, usize) -> String,
}

fn columns(inter_state: bool) -> Vec<Column> {
    let money = |w: f32, head: &'static str, cell: fn(&Line, usize) -> String| Column {
        head,
        width: w,
        align: Align::Right,
        cell,
    };
    let mut cols = vec![
        Column {
            head: "#",
            width: 14.0,
            align: Align::Left,
            cell: |_, i| format!("{}", i + 1),
        },
        Column {
            head: "Description",
            width: 0.0,
            align: Align::Left,
            cell: |l, _| l.description.clone(),
        },
        Column {
            head: "HSN",
            width: 42.0,
            align: Align::Left,
            cell: |l, _| l.hsn.as_ref().map(|h| h.to_string()).unwrap_or_default(),
        },
        Column {
            head: "Qty",
            width: 24.0,
            align: Align::Right,
            cell: |l, _| l.quantity.map(|q| q.to_string()).unwrap_or_default(),
        },
        money(54.0, "Unit price", |l, _| {
            l.unit_price.map(amount).unwrap_or_default()
        }),
        money(50.0, "Discount", |l, _| amount(l.discount)),
        money(54.0, "Taxable", |l, _| amount(l.taxable_value)),
        Column {
            head: "Rate",
            width: 28.0,
            align: Align::Right,
            cell: |l, _| l.rate.to_string(),
        },
    ];
    if inter_state {
        cols.push(money(52.0, "IGST", |l, _| amount(l.igst)));
    } else {
        cols.push(money(50.0, "CGST", |l, _| amount(l.cgst)));
        cols.push(money(50.0, "SGST", |l, _| amount(l.sgst)));
    }
    cols.push(money(58.0, "Total", |l, _| amount(l.total)));
    let fixed: f32 = cols.iter().map(|c| c.width).sum();
    cols[1].width = PAGE_W - 2.0 * MARGIN - fixed;
    cols
}

/// What both documents print, gathered from either.
struct Sheet<'a> {
    title: &'static str,
    heading: Vec<(&'static str, String)>,
    seller: &'a Party,
    buyer: &'a Party,
    inter_state: bool,
    rows: Vec<&'a Line>,
    totals: &'a Totals,
    total_label: &'static str,
    words: &'a str,
    number: &'a str,
}

fn sheet<'a>(kind: &Kind<'a>) -> Sheet<'a> {
    match *kind {
        Kind::Invoice(inv) => Sheet {
            title: "TAX INVOICE",
            heading: vec![
                ("Invoice number", inv.number.clone()),
                ("Invoice date", inv.date.clone()),
                ("Order", inv.order.number.clone()),
                ("Place of supply", state_text(&inv.place_of_supply)),
                ("Reverse charge", inv.reverse_charge.clone()),
            ],
            seller: &inv.seller,
            buyer: &inv.buyer,
            inter_state: inv.inter_state,
            rows: inv
                .lines
                .iter()
                .chain(std::iter::once(&inv.shipping))
                .collect(),
            totals: &inv.totals,
            total_label: "Invoice total",
            words: &inv.amount_in_words,
            number: &inv.number,
        },
        Kind::CreditNote(note) => Sheet {
            title: "CREDIT NOTE",
            heading: vec![
                ("Credit note number", note.number.clone()),
                ("Credit note date", note.date.clone()),
                (
                    "Against invoice",
                    format!("{} dated {}", note.invoice.number, note.invoice.date),
                ),
                ("Order", note.order.number.clone()),
                ("Reason", note.reason.clone()),
                ("Place of supply", state_text(&note.place_of_supply)),
                ("Reverse charge", note.reverse_charge.clone()),
            ],
            seller: &note.seller,
            buyer: &note.buyer,
            inter_state: note.inter_state,
            rows: note.lines.iter().collect(),
            totals: &note.totals,
            total_label: "Credit note total",
            words: &note.amount_in_words,
            number: &note.number,
        },
    }
}

fn party(p: &mut Pages, x: f32, width: f32, label: &str, who: &Party) -> f32 {
    let start = p.y;
    p.para(x, width, SMALL, Weight::Bold, label);
    p.para(x, width, BODY, Weight::Bold, &who.name);
    p.para(x, width, BODY, Weight::Regular, &who.address);
    if let Some(g) = &who.gstin {
        p.para(x, width, BODY, Weight::Regular, &format!("GSTIN: {g}"));
    }
    p.para(
        x,
        width,
        BODY,
        Weight::Regular,
        &format!("State: {}", state_text(&who.state)),
    );
    if let Some(phone) = &who.phone {
        p.para(x, width, BODY, Weight::Regular, &format!("Phone: {phone}"));
    }
    p.y - start
}

fn table_head(p: &mut Pages, cols: &[Column]) {
    let h = 14.0;
    let left = MARGIN;
    let right = PAGE_W - MARGIN;
    let y = p.y;
    p.ops().push(Op::Shade {
        x: left,
        y,
        w: right - left,
        h,
    });
    let mut x = left;
    for c in cols {
        let base = p.y + h - 4.5;
        match c.align {
            Align::Left => p.text(x + 2.0, base, SMALL, Weight::Bold, c.head),
            Align::Right => p.text_right(x + c.width - 2.0, base, SMALL, Weight::Bold, c.head),
        }
        x += c.width;
    }
    p.rule(left, p.y, right, 0.6);
    p.y += h;
    p.rule(left, p.y, right, 0.6);
}

fn render(kind: Kind<'_>) -> Result<Vec<u8>> {
    let s = sheet(&kind);
    let mut p = Pages {
        fonts: Fonts::new()?,
        pages: vec![Vec::new()],
        y: MARGIN,
    };
    let left = MARGIN;
    let right = PAGE_W - MARGIN;
    let width = right - left;

    // Title and the document's particulars.
    p.y += 16.0;
    p.text(left, p.y, 16.0, Weight::Bold, s.title);
    p.text_right(right, p.y, SMALL, Weight::Regular, "Original for recipient");
    p.y += 8.0;
    p.rule(left, p.y, right, 0.8);
    p.y += 4.0;
    for (label, value) in &s.heading {
        p.y += BODY * 1.4;
        p.text(left, p.y, BODY, Weight::Bold, format!("{label}:"));
        let lines = wrap(&p.fonts, value, BODY, Weight::Regular, width - 110.0);
        for (i, l) in lines.into_iter().enumerate() {
            if i > 0 {
                p.y += BODY * 1.35;
            }
            p.text(left + 110.0, p.y, BODY, Weight::Regular, l);
        }
    }
    p.y += 10.0;
    p.rule(left, p.y, right, 0.4);
    p.y += 2.0;

    // Seller and buyer side by side.
    let top = p.y;
    let half = width / 2.0 - 8.0;
    let h1 = party(&mut p, left, half, "SUPPLIER", s.seller);
    p.y = top;
    let h2 = party(
        &mut p,
        left + width / 2.0 + 8.0,
        half,
        "BILL TO / SHIP TO",
        s.buyer,
    );
    p.y = top + h1.max(h2) + 8.0;

    // The rows.
    let cols = columns(s.inter_state);
    p.text_right(right, p.y, SMALL, Weight::Regular, "Amounts in ₹");
    p.y += 4.0;
    table_head(&mut p, &cols);
    let bottom = PAGE_H - MARGIN - 40.0;
    for (i, line) in s.rows.iter().enumerate() {
        let desc = wrap(
            &p.fonts,
            &line.description,
            SMALL,
            Weight::Regular,
            cols[1].width - 4.0,
        );
        let h = desc.len() as f32 * SMALL * 1.35 + 5.0;
        if p.y + h > bottom {
            p.new_page();
            table_head(&mut p, &cols);
        }
        let base = p.y + SMALL * 1.35 + 1.0;
        let mut x = left;
        for (ci, c) in cols.iter().enumerate() {
            if ci == 1 {
                for (k, d) in desc.iter().enumerate() {
                    let y = base + k as f32 * SMALL * 1.35;
                    p.text(x + 2.0, y, SMALL, Weight::Regular, d.clone());
                }
            } else {
                let cell = (c.cell)(line, i);
                match c.align {
                    Align::Left => p.text(x + 2.0, base, SMALL, Weight::Regular, cell),
                    Align::Right => {
                        p.text_right(x + c.width - 2.0, base, SMALL, Weight::Regular, &cell)
                    }
                }
            }
            x += c.width;
        }
        p.y += h;
        p.rule(left, p.y, right, 0.3);
    }
    // Column totals.
    let sum = Line {
        description: "Total".into(),
        hsn: None,
        product_id: None,
        variant_id: None,
        sku: None,
        quantity: None,
        unit_price: None,
        discount: s.rows.iter().fold(Paise::ZERO, |a, l| a + l.discount),
        taxable_value: s.totals.taxable_value,
        rate: crate::tax::GstRate::ZERO,
        cgst: s.totals.cgst,
        sgst: s.totals.sgst,
        igst: s.totals.igst,
        total: s.totals.total,
    };
    if p.y + 16.0 > bottom {
        p.new_page();
        table_head(&mut p, &cols);
    }
    let base = p.y + SMALL * 1.35 + 1.0;
    let mut x = left;
    for (ci, c) in cols.iter().enumerate() {
        let cell = match (ci, c.head) {
            (1, _) => "Total".to_owned(),
            (_, "Discount" | "Taxable" | "CGST" | "SGST" | "IGST" | "Total") => (c.cell)(&sum, 0),
            _ => String::new(),
        };
        match c.align {
            Align::Left => p.text(x + 2.0, base, SMALL, Weight::Bold, cell),
            Align::Right => p.text_right(x + c.width - 2.0, base, SMALL, Weight::Bold, &cell),
        }
        x += c.width;
    }
    p.y += SMALL * 1.35 + 5.0;
    p.rule(left, p.y, right, 0.6);

    // The summary, with the rupee sign and Indian grouping, and the amount in words.
    if p.y + 130.0 > PAGE_H - MARGIN {
        p.new_page();
    }
    p.y += 6.0;
    let mut summary: Vec<(&str, Paise)> = vec![("Taxable value", s.totals.taxable_value)];
    if s.inter_state {
        summary.push(("IGST", s.totals.igst));
    } else {
        summary.push(("CGST", s.totals.cgst));
        summary.push(("SGST", s.totals.sgst));
    }
    summary.push(("Total tax", s.totals.total_tax));
    for (label, value) in summary {
        p.y += BODY * 1.45;
        p.text_right(right - 90.0, p.y, BODY, Weight::Regular, label);
        p.text_right(right, p.y, BODY, Weight::Regular, &value.format_inr());
    }
    p.y += BODY * 1.7;
    p.text_right(right - 90.0, p.y, 10.0, Weight::Bold, s.total_label);
    p.text_right(right, p.y, 10.0, Weight::Bold, &s.totals.total.format_inr());
    p.y += 8.0;
    p.para(
        left,
        width,
        BODY,
        Weight::Bold,
        &format!("Amount in words: {}", s.words),
    );
    p.y += 24.0;
    p.text_right(
        right,
        p.y,
        BODY,
        Weight::Regular,
        &format!("For {}", s.seller.name),
    );
    p.y += 28.0;
    p.text_right(right, p.y, BODY, Weight::Regular, "Authorised signatory");
    p.y += 18.0;
    p.text(
        left,
        p.y,
        SMALL,
        Weight::Regular,
        "This is a computer-generated document and needs no signature.",
    );

    draw(&p, s.title, s.number)
}

fn draw(p: &Pages, title: &str, number: &str) -> Result<Vec<u8>> {
    let black = Fill {
        paint: rgb::Color::new(0, 0, 0).into(),
        ..Default::default()
    };
    let shade = Fill {
        paint: rgb::Color::new(235, 235, 235).into(),
        ..Default::default()
    };
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(format!("{title} {number}"))
            .creator("Pitalya".into()),
    );
    let total = p.pages.len();
    for (n, ops) in p.pages.iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("A4 is a page size")))?;
        let mut page = doc.start_page_with(settings);
        let mut surface = page.surface();
        for op in ops.iter().chain(std::iter::once(&Op::Text {
            x: MARGIN,
            y: PAGE_H - MARGIN / 2.0,
            size: SMALL,
            weight: Weight::Regular,
            text: format!("{number} · page {} of {total}", n + 1),
        })) {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    weight,
                    text,
                } => {
                    surface.set_stroke(None);
                    surface.set_fill(Some(black.clone()));
                    p.fonts
                        .draw(&mut surface, Point::from_xy(*x, *y), *size, *weight, text)?;
                }
                Op::Rule {
                    x1,
                    y1,
                    x2,
                    y2,
                    width,
                } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(*x1, *y1);
                    pb.line_to(*x2, *y2);
                    if let Some(path) = pb.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            paint: rgb::Color::new(90, 90, 90).into(),
                            width: *width,
                            ..Default::default()
                        }));
                        surface.draw_path(&path);
                    }
                }
                Op::Shade { x, y, w, h } => {
                    let mut pb = PathBuilder::new();
                    if let Some(r) = krilla::geom::Rect::from_xywh(*x, *y, *w, *h) {
                        pb.push_rect(r);
                    }
                    if let Some(path) = pb.finish() {
                        surface.set_stroke(None);
                        surface.set_fill(Some(shade.clone()));
                        surface.draw_path(&path);
                    }
                }
            }
        }
        surface.finish();
        page.finish();
    }
    doc.finish()
        .map_err(|e| Error::Internal(anyhow::anyhow!("render PDF: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoices::tests::{order, refund, seller};
    use crate::invoices::{credit_lines, draw_invoice, CreditNote, InvoiceRef};
    use std::collections::HashMap;

    #[test]
    fn every_script_of_india_and_the_rupee_sign_have_a_font_in_both_weights() {
        let fonts = Fonts::new().unwrap();
        for text in [
            "₹1,29,900.00 Asha Iyer Ελένη Ольга Nguyễn Thị",
            "आशा अय्यर क्षत्रिय",
            "আশা আইয়ার",
            "ਆਸ਼ਾ ਅੱਯਰ",
            "આશા ઐયર",
            "ଆଶା ଆୟାର",
            "ஆஷா ஐயர்",
            "ఆశా అయ్యర్",
            "ಆಶಾ ಅಯ್ಯರ್",
            "ആശ അയ്യർ",
            "ᱥᱟᱱᱛᱟᱲᱤ",
            "ꯃꯤꯇꯩ ꯃꯌꯦꯛ",
            "عائشہ ایّر",
            "🪔 👍🏽 🇮🇳 👨‍👩‍👧",
        ] {
            for weight in [Weight::Regular, Weight::Bold] {
                assert!(fonts.draws_all_of(text, weight), "{text}");
            }
        }
        // What none has is drawn as a replacement, not a box, and keeps its width.
        assert!(!fonts.draws_all_of("\u{1E900}", Weight::Regular));
        assert!(fonts.width("\u{1E900}", 10.0, Weight::Regular) > 0.0);
    }

    #[test]
    fn a_word_too_long_for_its_line_breaks_between_letters_never_before_a_vowel_sign() {
        let fonts = Fonts::new().unwrap();
        let word = "हस्तनिर्मितपीतलदीपकसाथमेंश्रृंखला";
        let lines = wrap(&fonts, word, BODY, Weight::Regular, 30.0);
        assert!(lines.len() > 2, "{lines:?}");
        assert_eq!(lines.concat(), word);
        for line in &lines {
            // Dependent vowel signs, virama and nukta belong to the letter before them.
            let first = line.chars().next().unwrap();
            assert!(!('\u{093C}'..='\u{094D}').contains(&first), "{lines:?}");
        }
    }

    #[test]
    fn documents_render_as_a4_pdfs_with_the_fonts_embedded() {
        let o = order("Tamil Nadu");
        let mut inv = draw_invoice(
            &o,
            o.tax.as_ref().unwrap(),
            &seller(),
            "PIT/2627/000001".into(),
            crate::vocabulary::time::now(),
        )
        .unwrap();
        // Enough rows for a second page, and a description longer than its column.
        let first = inv.lines[0].clone();
        for _ in 0..40 {
            inv.lines.push(Line {
                description: "A very long description of a hand-beaten brass lamp with a peacock finial and a chain".into(),
                ..first.clone()
            });
        }
        let pdf = invoice(&inv).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        // The fonts are subset: the whole of either is bigger than this document. (What the
        // PDF holds — A4, embedded fonts, extractable text — is checked with pdftotext by
        // the API tests.)
        assert!(
            pdf.len() < 200_000,
            "subset, not the whole font: {}",
            pdf.len()
        );

        let refund = refund(10_000, None);
        let lines = credit_lines(&inv, &refund, &HashMap::new());
        let note = CreditNote {
            number: "PCN/2627/000001".into(),
            date: inv.date.clone(),
            issued_at: inv.issued_at.clone(),
            financial_year: inv.financial_year.clone(),
            invoice: InvoiceRef {
                number: inv.number.clone(),
                date: inv.date.clone(),
            },
            order: inv.order.clone(),
            refund_id: "PITR-1".into(),
            reason: "damaged".into(),
            seller: inv.seller.clone(),
            buyer: inv.buyer.clone(),
            place_of_supply: inv.place_of_supply.clone(),
            inter_state: false,
            reverse_charge: "No".into(),
            totals: Totals::of(&lines),
            lines,
            amount_in_words: "Rupees One Hundred Only".into(),
        };
        assert!(credit_note(&note).unwrap().starts_with(b"%PDF-"));
    }
}
