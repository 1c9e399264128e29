//! Reads a Shopify product CSV export into products, options, variants and images, with every
//! problem named by row, and touches nothing: the import route (coming with variants) decides
//! what to create, update or leave alone. docs/shopify-import.md says what is accepted.
//!
//! Real importers lose data on exactly these files (numeric SKUs read as numbers, quantities
//! dropped, quoted titles split, unknown columns failing the file), so every cell stays text
//! until a rule of this module turns it into something else, and money never meets a float.

use crate::catalog::{is_valid_slug, MAX_PAISE, MAX_STOCK};
use crate::tax::{GstRate, Hsn};
use crate::vocabulary::money::Paise;
use platform::error::FieldError;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// The largest file an import takes (the contract's 5 MB).
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
/// Shopify's own limit, and the catalog's.
pub const MAX_OPTIONS: usize = 3;
/// The catalog's limit on the values of one option.
pub const MAX_OPTION_VALUES: usize = 50;

/// What the owner supplies for what Shopify does not carry: neither export dialect has an HSN
/// code or a GST rate, and a product without both cannot be sold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportDefaults {
    pub hsn: Option<Hsn>,
    pub gst_rate: Option<GstRate>,
}

/// Which of Shopify's two header spellings the file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Dialect {
    /// The admin's export (`Handle`, `Body (HTML)`, `Variant SKU`, ...).
    Legacy,
    /// The help centre's template (`URL handle`, `Description`, `SKU`, ...).
    Current,
}

/// The whole file is unusable: nothing in it is read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    #[error("the file is {bytes} bytes; an import takes at most 5 MB ({MAX_FILE_BYTES} bytes)")]
    TooLarge { bytes: usize },
    #[error("the file is not UTF-8 text (from line {line}); export it from Shopify again, or save it as \"CSV UTF-8\"")]
    NotUtf8 { line: u64 },
    #[error("the file is not CSV text: {reason}")]
    NotCsv { reason: String },
    #[error("the file is empty")]
    Empty,
    #[error("not a Shopify product CSV: it has no {} column", .missing.join(" column and no "))]
    MissingColumns { missing: Vec<String> },
}

impl FileProblem {
    /// The problem as the field errors of a `400 VALIDATION_FAILED`, one per missing column,
    /// so the owner sees each thing the file lacks.
    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            FileProblem::MissingColumns { missing } => missing
                .iter()
                .map(|c| {
                    FieldError::new("body", format!("not a Shopify product CSV: no {c} column"))
                })
                .collect(),
            other => vec![FieldError::new("body", other.to_string())],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The product this row belongs to is left out of the import.
    Error,
    /// The product imports; the owner should know (and probably act).
    Warning,
}

/// One problem of one row, shaped as the import's answer lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowProblem {
    /// The line the CSV record starts on, the header being line 1 (a quoted description
    /// spanning lines moves the following records down, as a text editor shows them).
    pub row: u64,
    pub handle: String,
    /// The column as the file spells it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub level: Level,
    pub message: String,
}

/// Shopify's product status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Draft,
    Archived,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShopifyOption {
    pub name: String,
    /// Distinct, in the order the rows first name them (the order the storefront offers).
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShopifyVariant {
    pub row: u64,
    /// Exactly as written (`00123` stays `00123`); `None` when the row has none.
    pub sku: Option<String>,
    /// One value per option of the product, in the product's option order.
    pub option_values: Vec<String>,
    pub price: Paise,
    pub compare_at_price: Option<Paise>,
    pub weight_grams: Option<i64>,
    /// Used only when the variant is created; `None` when the cell is empty (not tracked).
    pub inventory_quantity: Option<i64>,
    pub barcode: Option<String>,
    pub image: Option<String>,
}

impl ShopifyVariant {
    /// The variant's title as the catalog names it: its option values joined, or `Default`
    /// for the one variant of a product without options.
    pub fn title(&self) -> String {
        if self.option_values.is_empty() {
            "Default".to_owned()
        } else {
            self.option_values.join(" / ")
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShopifyImage {
    pub url: String,
    pub alt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShopifyProduct {
    /// The product's first row.
    pub row: u64,
    /// Shopify's handle, the catalog's slug.
    pub handle: String,
    pub title: String,
    /// The description with only the safe subset of HTML left (see [`sanitise_description`]).
    pub description_html: String,
    pub vendor: Option<String>,
    pub product_type: Option<String>,
    pub tags: Vec<String>,
    pub status: Status,
    /// `false` when Shopify's published column says so.
    pub published: bool,
    /// Whether the product may go on sale as imported: active, published, and with an HSN
    /// code and a GST rate (from the defaults, since Shopify carries neither).
    pub is_active: bool,
    pub hsn: Option<Hsn>,
    pub gst_rate: Option<GstRate>,
    /// Empty for a product without options (Shopify's `Title` / `Default Title`).
    pub options: Vec<ShopifyOption>,
    pub variants: Vec<ShopifyVariant>,
    /// In `Image Position` order, each URL once.
    pub images: Vec<ShopifyImage>,
}

/// A readable file: the products without errors, and every problem of every row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Parsed {
    pub dialect: Dialect,
    pub products: Vec<ShopifyProduct>,
    /// Columns whose content is not carried across, as the file spells them.
    pub ignored_columns: Vec<String>,
    /// In row order.
    pub problems: Vec<RowProblem>,
}

/// Reads a Shopify product CSV export. `Err` only when the file as a whole is unusable; a
/// product with an error in any of its rows is reported in `problems` and left out of
/// `products`, and the others still parse.
pub fn parse(bytes: &[u8], defaults: ImportDefaults) -> Result<Parsed, FileProblem> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FileProblem::TooLarge { bytes: bytes.len() });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| FileProblem::NotUtf8 {
        line: line_at(bytes, e.valid_up_to()),
    })?;
    // Excel's "Unicode text" is UTF-16, which is mostly valid UTF-8 with a NUL in every other
    // byte; no CSV has NULs.
    if text.contains('\0') {
        return Err(FileProblem::NotCsv {
            reason: "it holds NUL bytes (a binary file, or UTF-16 text)".to_owned(),
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        // Ragged rows are reported per row rather than failing the whole file.
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        None => return Err(FileProblem::Empty),
        Some(r) => r.map_err(not_csv)?,
    };
    let columns = Columns::read(&header)?;
    let mut reading = Reading::new(&columns);
    let mut lines = Lines {
        text: text.as_bytes(),
        at: 0,
        line: 1,
    };
    for record in records {
        let record = record.map_err(not_csv)?;
        let row = record.position().map_or(0, |p| {
            lines.line_of(usize::try_from(p.byte()).unwrap_or(usize::MAX))
        });
        reading.row(&record, row);
    }
    Ok(reading.finish(&defaults))
}

/// The line a record starts on, counted from its byte offset. The reader's own line number is
/// one short on CRLF files: it takes a record's position before the `\n` of the line ending
/// before it, so line endings at the offset are skipped here.
struct Lines<'t> {
    text: &'t [u8],
    at: usize,
    line: u64,
}

impl Lines<'_> {
    /// Offsets only grow, so the file is counted once however many records it holds.
    fn line_of(&mut self, byte: usize) -> u64 {
        let mut start = byte.min(self.text.len());
        // Also the blank lines the reader skips before a record.
        while matches!(self.text.get(start), Some(b'\n' | b'\r')) {
            start += 1;
        }
        let newlines = self.text[self.at.min(start)..start]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.line += u64::try_from(newlines).unwrap_or(0);
        self.at = self.at.max(start);
        self.line
    }
}

fn not_csv(e: csv::Error) -> FileProblem {
    FileProblem::NotCsv {
        reason: e.to_string(),
    }
}

fn line_at(bytes: &[u8], offset: usize) -> u64 {
    let newlines = bytes[..offset].iter().filter(|b| **b == b'\n').count();
    u64::try_from(newlines).map_or(u64::MAX, |n| n + 1)
}

/// Why a price cell is not an amount of paise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RupeesError {
    #[error("must be rupees like 1299.00")]
    NotANumber,
    #[error("must not be negative")]
    Negative,
    #[error("has more than two decimals (paise are the smallest unit)")]
    TooManyDecimals,
    #[error("is above ₹10,00,00,000.00")]
    TooLarge,
}

/// Decimal rupees (`1299`, `1299.5`, `1299.00`) to exact paise, in integers only. Anything
/// else (a sign, a third decimal, grouping commas, a currency sign, an exponent) is refused
/// rather than guessed at.
pub fn parse_rupees(raw: &str) -> Result<Paise, RupeesError> {
    let s = raw.trim();
    if let Some(rest) = s.strip_prefix('-') {
        return Err(match parse_rupees(rest) {
            Err(RupeesError::NotANumber | RupeesError::Negative) => RupeesError::NotANumber,
            _ => RupeesError::Negative,
        });
    }
    let (whole, fraction) = match s.split_once('.') {
        Some((w, f)) if !f.is_empty() => (w, f),
        Some(_) => return Err(RupeesError::NotANumber),
        None => (s, ""),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(RupeesError::NotANumber);
    }
    if fraction.len() > 2 {
        return Err(RupeesError::TooManyDecimals);
    }
    let whole = whole.trim_start_matches('0');
    // Eleven digits of rupees are already far past the ceiling; the check keeps the integer
    // parse below from ever overflowing.
    if whole.len() > 11 {
        return Err(RupeesError::TooLarge);
    }
    let rupees: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| RupeesError::NotANumber)?
    };
    let paise: i64 = match fraction.len() {
        0 => 0,
        1 => i64::from(fraction.as_bytes()[0] - b'0') * 10,
        _ => fraction.parse().map_err(|_| RupeesError::NotANumber)?,
    };
    let total = rupees * 100 + paise;
    if total > MAX_PAISE {
        return Err(RupeesError::TooLarge);
    }
    Ok(Paise(total))
}

/// Paise as Shopify writes prices (`1299.00`), the inverse of [`parse_rupees`].
pub fn format_rupees(p: Paise) -> String {
    let sign = if p.get() < 0 { "-" } else { "" };
    let abs = p.get().unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Keeps only what a product description needs and can never script the shop: paragraphs,
/// line breaks, lists, bold, italic and http(s) links. Everything else is unwrapped to its
/// text (a `<span>`, a heading) or dropped with its content (`<script>`, `<style>`).
pub fn sanitise_description(html: &str) -> String {
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(HashSet::from([
            "p", "br", "ul", "ol", "li", "b", "strong", "i", "em", "a",
        ]))
        .tag_attributes(HashMap::from([("a", HashSet::from(["href"]))]))
        .generic_attributes(HashSet::new())
        .url_schemes(HashSet::from(["http", "https"]))
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"));
    builder.clean(html).to_string().trim().to_owned()
}

/// What a column means, in either dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    Handle,
    Title,
    Body,
    Vendor,
    Type,
    Tags,
    Published,
    Status,
    /// `Option{n} Name`, 0-based.
    OptionName(usize),
    /// `Option{n} Value`, 0-based.
    OptionValue(usize),
    Sku,
    Barcode,
    Price,
    CompareAt,
    Grams,
    Inventory,
    ImageSrc,
    ImagePosition,
    ImageAlt,
    VariantImage,
}

/// Every column the importer reads, as (legacy export, current template) spell them.
const COLUMNS: [(&str, &str, Field); 18] = [
    ("Handle", "URL handle", Field::Handle),
    ("Title", "Title", Field::Title),
    ("Body (HTML)", "Description", Field::Body),
    ("Vendor", "Vendor", Field::Vendor),
    ("Type", "Type", Field::Type),
    ("Tags", "Tags", Field::Tags),
    ("Published", "Published on online store", Field::Published),
    ("Status", "Status", Field::Status),
    ("Variant SKU", "SKU", Field::Sku),
    ("Variant Barcode", "Barcode", Field::Barcode),
    ("Variant Price", "Price", Field::Price),
    (
        "Variant Compare At Price",
        "Compare-at price",
        Field::CompareAt,
    ),
    ("Variant Grams", "Weight value (grams)", Field::Grams),
    (
        "Variant Inventory Qty",
        "Inventory quantity",
        Field::Inventory,
    ),
    ("Image Src", "Product image URL", Field::ImageSrc),
    ("Image Position", "Image position", Field::ImagePosition),
    ("Image Alt Text", "Image alt text", Field::ImageAlt),
    ("Variant Image", "Variant image URL", Field::VariantImage),
];

/// `option2 value` → `OptionValue(1)`, for any number, so that a fourth option is seen (and
/// refused) rather than ignored.
fn option_field(header: &str) -> Option<Field> {
    let rest = header.strip_prefix("option")?;
    let (n, kind) = rest.split_once(' ')?;
    let n: usize = n.parse().ok().filter(|n| *n >= 1)?;
    match kind.trim() {
        "name" => Some(Field::OptionName(n - 1)),
        "value" => Some(Field::OptionValue(n - 1)),
        _ => None,
    }
}

/// The file's header: where each field is and how the file spells it.
struct Columns {
    dialect: Dialect,
    at: HashMap<Field, usize>,
    names: Vec<String>,
    ignored: Vec<String>,
    /// How many `Option{n}` slots the header has (3 in Shopify's own files).
    option_slots: usize,
}

impl Columns {
    fn read(header: &csv::StringRecord) -> Result<Columns, FileProblem> {
        let names: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
        let mut at = HashMap::new();
        let mut ignored = Vec::new();
        let mut dialect = None;
        for (i, name) in names.iter().enumerate() {
            let known = COLUMNS
                .iter()
                .find_map(|(legacy, current, field)| {
                    let legacy = name.eq_ignore_ascii_case(legacy);
                    let current = name.eq_ignore_ascii_case(current);
                    // Columns both dialects spell alike say nothing of the dialect.
                    match (legacy, current) {
                        (true, false) => _ = dialect.get_or_insert(Dialect::Legacy),
                        (false, true) => _ = dialect.get_or_insert(Dialect::Current),
                        _ => {}
                    }
                    (legacy || current).then_some(*field)
                })
                .or_else(|| option_field(&name.to_lowercase()));
            match known {
                // A second column of the same meaning is not read; say so.
                Some(field) if !at.contains_key(&field) => {
                    at.insert(field, i);
                }
                _ if !name.is_empty() => ignored.push(name.clone()),
                _ => {}
            }
        }
        let mut missing = Vec::new();
        if !at.contains_key(&Field::Handle) {
            missing.push("Handle (or URL handle)".to_owned());
        }
        if !at.contains_key(&Field::Title) {
            missing.push("Title".to_owned());
        }
        if !missing.is_empty() {
            return Err(FileProblem::MissingColumns { missing });
        }
        let option_slots = at
            .keys()
            .filter_map(|f| match f {
                Field::OptionName(n) | Field::OptionValue(n) => Some(n + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        Ok(Columns {
            dialect: dialect.unwrap_or(Dialect::Legacy),
            at,
            names,
            ignored,
            option_slots,
        })
    }

    /// The trimmed cell, `""` when the column or the cell is absent.
    fn cell<'r>(&self, record: &'r csv::StringRecord, field: Field) -> &'r str {
        self.at
            .get(&field)
            .and_then(|i| record.get(*i))
            .map_or("", str::trim)
    }

    /// The column as the file spells it, or as Shopify's dialect would.
    fn name(&self, field: Field) -> String {
        if let Some(i) = self.at.get(&field) {
            return self.names[*i].clone();
        }
        let legacy = self.dialect == Dialect::Legacy;
        match field {
            Field::OptionName(n) if legacy => format!("Option{} Name", n + 1),
            Field::OptionValue(n) if legacy => format!("Option{} Value", n + 1),
            Field::OptionName(n) => format!("Option{} name", n + 1),
            Field::OptionValue(n) => format!("Option{} value", n + 1),
            _ => COLUMNS
                .iter()
                .find(|(_, _, f)| *f == field)
                .map(|(l, c, _)| if legacy { l } else { c }.to_string())
                .unwrap_or_default(),
        }
    }
}

/// The columns that make a row a variant; a later row of a handle without any of them only
/// adds an image.
const VARIANT_FIELDS: [Field; 7] = [
    Field::Sku,
    Field::Barcode,
    Field::Price,
    Field::CompareAt,
    Field::Grams,
    Field::Inventory,
    Field::VariantImage,
];

/// A product while its rows are read.
struct Draft {
    product: ShopifyProduct,
    /// The `Option{n}` slot of each of the product's options.
    slots: Vec<usize>,
    /// Shopify's `Title` / `Default Title`: a product without options.
    default_title: bool,
    combinations: HashMap<Vec<String>, u64>,
    /// (position, order of appearance, image).
    images: Vec<(Option<u32>, usize, ShopifyImage)>,
}

struct Reading<'c> {
    columns: &'c Columns,
    drafts: Vec<Draft>,
    by_handle: HashMap<String, usize>,
    skus: HashMap<String, u64>,
    problems: Vec<RowProblem>,
}

impl<'c> Reading<'c> {
    fn new(columns: &'c Columns) -> Reading<'c> {
        Reading {
            columns,
            drafts: Vec::new(),
            by_handle: HashMap::new(),
            skus: HashMap::new(),
            problems: Vec::new(),
        }
    }

    fn problem(
        &mut self,
        row: u64,
        handle: &str,
        field: Option<Field>,
        level: Level,
        message: String,
    ) {
        let column = field.map(|f| self.columns.name(f));
        self.problems.push(RowProblem {
            row,
            handle: handle.to_owned(),
            column,
            level,
            message,
        });
    }

    fn error(&mut self, row: u64, handle: &str, field: Field, message: impl Into<String>) {
        self.problem(row, handle, Some(field), Level::Error, message.into());
    }

    fn warning(
        &mut self,
        row: u64,
        handle: &str,
        field: Option<Field>,
        message: impl Into<String>,
    ) {
        self.problem(row, handle, field, Level::Warning, message.into());
    }

    fn row(&mut self, record: &csv::StringRecord, row: u64) {
        // A spreadsheet's trailing empty rows carry nothing to report.
        if record.iter().all(|c| c.trim().is_empty()) {
            return;
        }
        let handle = self.columns.cell(record, Field::Handle).to_owned();
        if handle.is_empty() {
            self.error(
                row,
                "",
                Field::Handle,
                "is empty: every row names its product's handle",
            );
            return;
        }
        if record.len() != self.columns.names.len() {
            // Shifted cells would put a weight where the price is; nothing of it is trusted.
            self.problem(
                row,
                &handle,
                None,
                Level::Error,
                format!(
                    "has {} cells where the header has {} columns",
                    record.len(),
                    self.columns.names.len()
                ),
            );
            return;
        }
        let index = match self.by_handle.get(&handle) {
            Some(i) => *i,
            None => {
                let draft = self.first_row(row, &handle, record);
                self.drafts.push(draft);
                self.by_handle.insert(handle.clone(), self.drafts.len() - 1);
                self.variant(self.drafts.len() - 1, row, &handle, record);
                self.image(self.drafts.len() - 1, row, &handle, record);
                return;
            }
        };
        let is_variant = VARIANT_FIELDS
            .into_iter()
            .chain((0..self.columns.option_slots).map(Field::OptionValue))
            .any(|f| !self.columns.cell(record, f).is_empty());
        if is_variant {
            self.variant(index, row, &handle, record);
        } else if self.columns.cell(record, Field::ImageSrc).is_empty() {
            self.warning(
                row,
                &handle,
                None,
                "carries neither a variant nor an image; ignored",
            );
        }
        self.image(index, row, &handle, record);
    }

    /// The product's fields, from the first row of its handle.
    fn first_row(&mut self, row: u64, handle: &str, record: &csv::StringRecord) -> Draft {
        let c = self.columns;
        if !is_valid_slug(handle) {
            self.error(
                row,
                handle,
                Field::Handle,
                "must be lower-case letters and digits joined by '-', at most 80 characters",
            );
        }
        let title = c.cell(record, Field::Title).to_owned();
        if title.is_empty() {
            self.error(
                row,
                handle,
                Field::Title,
                "is empty: the product needs a title",
            );
        }
        let optional = |f: Field| Some(c.cell(record, f).to_owned()).filter(|s| !s.is_empty());
        let status = match c.cell(record, Field::Status).to_lowercase().as_str() {
            "" | "active" => Status::Active,
            "archived" => Status::Archived,
            "draft" => Status::Draft,
            other => {
                self.warning(
                    row,
                    handle,
                    Some(Field::Status),
                    format!("'{other}' is not active, draft or archived; read as draft"),
                );
                Status::Draft
            }
        };
        let published = match c.cell(record, Field::Published).to_lowercase().as_str() {
            "" | "true" => true,
            "false" => false,
            other => {
                self.warning(
                    row,
                    handle,
                    Some(Field::Published),
                    format!("'{other}' is not TRUE or FALSE; read as FALSE"),
                );
                false
            }
        };
        let (options, slots, default_title) = self.options(row, handle, record);
        Draft {
            product: ShopifyProduct {
                row,
                handle: handle.to_owned(),
                title,
                description_html: sanitise_description(c.cell(record, Field::Body)),
                vendor: optional(Field::Vendor),
                product_type: optional(Field::Type),
                tags: c
                    .cell(record, Field::Tags)
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect(),
                status,
                published,
                is_active: false,
                hsn: None,
                gst_rate: None,
                options,
                variants: Vec::new(),
                images: Vec::new(),
            },
            slots,
            default_title,
            combinations: HashMap::new(),
            images: Vec::new(),
        }
    }

    /// The product's options, named on its first row.
    fn options(
        &mut self,
        row: u64,
        handle: &str,
        record: &csv::StringRecord,
    ) -> (Vec<ShopifyOption>, Vec<usize>, bool) {
        let c = self.columns;
        let named: Vec<(usize, String)> = (0..c.option_slots)
            .map(|n| (n, c.cell(record, Field::OptionName(n)).to_owned()))
            .filter(|(_, name)| !name.is_empty())
            .collect();
        if let [(n, name)] = named.as_slice() {
            if name.eq_ignore_ascii_case("title")
                && c.cell(record, Field::OptionValue(*n))
                    .eq_ignore_ascii_case("default title")
            {
                return (Vec::new(), Vec::new(), true);
            }
        }
        if named.len() > MAX_OPTIONS {
            self.error(
                row,
                handle,
                Field::OptionName(named[MAX_OPTIONS].0),
                format!(
                    "the product has {} options; Shopify and the shop allow at most {MAX_OPTIONS}",
                    named.len()
                ),
            );
        }
        let mut seen = HashSet::new();
        for (n, name) in &named {
            if !seen.insert(name.to_lowercase()) {
                self.error(
                    row,
                    handle,
                    Field::OptionName(*n),
                    format!("names the option '{name}' twice"),
                );
            }
        }
        let options = named
            .iter()
            .map(|(_, name)| ShopifyOption {
                name: name.clone(),
                values: Vec::new(),
            })
            .collect();
        (options, named.into_iter().map(|(n, _)| n).collect(), false)
    }

    fn variant(&mut self, index: usize, row: u64, handle: &str, record: &csv::StringRecord) {
        let c = self.columns;
        let mut values = Vec::new();
        let slots = self.drafts[index].slots.clone();
        for (k, n) in slots.iter().enumerate() {
            let value = c.cell(record, Field::OptionValue(*n));
            if value.is_empty() {
                let name = self.drafts[index].product.options[k].name.clone();
                self.error(
                    row,
                    handle,
                    Field::OptionValue(*n),
                    format!("is empty: every variant needs a value for '{name}'"),
                );
            }
            values.push(value.to_owned());
        }
        for n in (0..c.option_slots).filter(|n| !slots.contains(n)) {
            let value = c.cell(record, Field::OptionValue(n));
            let default =
                self.drafts[index].default_title && value.eq_ignore_ascii_case("default title");
            if !value.is_empty() && !default {
                self.error(
                    row,
                    handle,
                    Field::OptionValue(n),
                    format!(
                        "holds '{value}', but the product's first row names no option {}",
                        n + 1
                    ),
                );
            }
        }
        self.option_values(index, row, handle, &values);

        let sku = Some(c.cell(record, Field::Sku).to_owned()).filter(|s| !s.is_empty());
        match &sku {
            Some(s) if !is_valid_sku(s) => self.error(
                row,
                handle,
                Field::Sku,
                format!("'{s}' must be 1 to 64 of A-Z a-z 0-9 - _ . /"),
            ),
            Some(s) => {
                if let Some(first) = self.skus.get(s) {
                    let first = *first;
                    self.error(
                        row,
                        handle,
                        Field::Sku,
                        format!("'{s}' is also the SKU on row {first}"),
                    );
                } else {
                    self.skus.insert(s.clone(), row);
                }
            }
            None => self.warning(
                row,
                handle,
                Some(Field::Sku),
                "is empty: the variant is matched by its option values on a re-import",
            ),
        }
        let price = match c.cell(record, Field::Price) {
            "" => {
                self.error(
                    row,
                    handle,
                    Field::Price,
                    "is empty: every variant needs a price",
                );
                None
            }
            raw => match parse_rupees(raw) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.error(row, handle, Field::Price, format!("'{raw}' {e}"));
                    None
                }
            },
        };
        let compare_at_price = match c.cell(record, Field::CompareAt) {
            "" => None,
            raw => match parse_rupees(raw) {
                Ok(p) if price.is_some_and(|price| p <= price) => {
                    self.warning(
                        row,
                        handle,
                        Some(Field::CompareAt),
                        format!(
                            "'{raw}' is not above the price, so the variant shows no reduction"
                        ),
                    );
                    None
                }
                Ok(p) => Some(p),
                Err(e) => {
                    self.error(row, handle, Field::CompareAt, format!("'{raw}' {e}"));
                    None
                }
            },
        };
        let weight_grams = self.grams(row, handle, c.cell(record, Field::Grams));
        let inventory_quantity = self.inventory(row, handle, c.cell(record, Field::Inventory));
        let image = self.url(
            row,
            handle,
            Field::VariantImage,
            c.cell(record, Field::VariantImage),
        );
        let barcode = Some(c.cell(record, Field::Barcode).to_owned()).filter(|s| !s.is_empty());
        self.drafts[index].product.variants.push(ShopifyVariant {
            row,
            sku,
            option_values: values,
            price: price.unwrap_or(Paise::ZERO),
            compare_at_price,
            weight_grams,
            inventory_quantity,
            barcode,
            image,
        });
    }

    /// Adds the row's values to the product's options and refuses a combination seen before.
    fn option_values(&mut self, index: usize, row: u64, handle: &str, values: &[String]) {
        let draft = &mut self.drafts[index];
        if let Some(first) = draft.combinations.get(values) {
            let first = *first;
            let shown = if values.is_empty() {
                "no options".to_owned()
            } else {
                values.join(" / ")
            };
            self.problem(
                row,
                handle,
                None,
                Level::Error,
                format!("repeats the option values of row {first} ({shown}): each combination is one variant"),
            );
            return;
        }
        draft.combinations.insert(values.to_vec(), row);
        let mut too_many = Vec::new();
        for ((option, value), n) in draft
            .product
            .options
            .iter_mut()
            .zip(values)
            .zip(&draft.slots)
        {
            if value.is_empty() || option.values.contains(value) {
                continue;
            }
            option.values.push(value.clone());
            if option.values.len() == MAX_OPTION_VALUES + 1 {
                too_many.push((*n, option.name.clone()));
            }
        }
        for (n, name) in too_many {
            self.error(
                row,
                handle,
                Field::OptionValue(n),
                format!("'{name}' has more than {MAX_OPTION_VALUES} values"),
            );
        }
    }

    fn grams(&mut self, row: u64, handle: &str, raw: &str) -> Option<i64> {
        // Legacy exports write whole grams as `250.0`.
        let whole = raw
            .split_once('.')
            .filter(|(_, f)| !f.is_empty() && f.bytes().all(|b| b == b'0'))
            .map_or(raw, |(w, _)| w);
        let grams = match whole {
            "" => None,
            w if w.bytes().all(|b| b.is_ascii_digit()) && w.len() <= 9 => w.parse().ok(),
            _ => {
                self.error(
                    row,
                    handle,
                    Field::Grams,
                    format!("'{raw}' must be whole grams"),
                );
                return None;
            }
        };
        if grams.unwrap_or(0) == 0 {
            self.warning(
                row,
                handle,
                Some(Field::Grams),
                "no weight: couriers bill on it, so the variant cannot be shipped until it has one",
            );
            return None;
        }
        grams
    }

    fn inventory(&mut self, row: u64, handle: &str, raw: &str) -> Option<i64> {
        if raw.is_empty() {
            return None;
        }
        match raw.parse::<i64>() {
            Ok(n) if n > MAX_STOCK => {
                self.error(
                    row,
                    handle,
                    Field::Inventory,
                    format!("'{raw}' is above {MAX_STOCK}"),
                );
                None
            }
            // Shopify lets stock go below zero when it sells on; the shop never does.
            Ok(n) if n < 0 => {
                self.warning(
                    row,
                    handle,
                    Some(Field::Inventory),
                    format!("'{raw}' is below zero; a new variant starts with 0"),
                );
                Some(0)
            }
            Ok(n) => Some(n),
            Err(_) => {
                self.error(
                    row,
                    handle,
                    Field::Inventory,
                    format!("'{raw}' must be a whole number"),
                );
                None
            }
        }
    }

    fn url(&mut self, row: u64, handle: &str, field: Field, raw: &str) -> Option<String> {
        if raw.is_empty() {
            return None;
        }
        let ok = (raw.starts_with("https://") || raw.starts_with("http://"))
            && raw.len() <= 2048
            && !raw.chars().any(char::is_whitespace);
        if !ok {
            self.warning(
                row,
                handle,
                Some(field),
                format!("'{raw}' is not an http(s) URL; left out"),
            );
        }
        ok.then(|| raw.to_owned())
    }

    fn image(&mut self, index: usize, row: u64, handle: &str, record: &csv::StringRecord) {
        let c = self.columns;
        let Some(url) = self.url(
            row,
            handle,
            Field::ImageSrc,
            c.cell(record, Field::ImageSrc),
        ) else {
            return;
        };
        let raw = c.cell(record, Field::ImagePosition);
        let position = raw.parse::<u32>().ok();
        if position.is_none() && !raw.is_empty() {
            self.warning(
                row,
                handle,
                Some(Field::ImagePosition),
                format!("'{raw}' is not a position; the image goes after the numbered ones"),
            );
        }
        let alt = Some(c.cell(record, Field::ImageAlt).to_owned()).filter(|s| !s.is_empty());
        let images = &mut self.drafts[index].images;
        let seq = images.len();
        images.push((position, seq, ShopifyImage { url, alt }));
    }

    fn finish(mut self, defaults: &ImportDefaults) -> Parsed {
        let drafts = std::mem::take(&mut self.drafts);
        let mut products = Vec::new();
        for mut draft in drafts {
            let p = &mut draft.product;
            draft
                .images
                .sort_by_key(|(position, seq, _)| (position.is_none(), *position, *seq));
            let mut seen = HashSet::new();
            p.images = draft
                .images
                .into_iter()
                .map(|(_, _, image)| image)
                .filter(|image| seen.insert(image.url.clone()))
                .collect();
            p.hsn = defaults.hsn.clone();
            p.gst_rate = defaults.gst_rate;
            let p = draft.product;
            self.activity(&p);
            let is_active = p.status == Status::Active
                && p.published
                && p.hsn.is_some()
                && p.gst_rate.is_some();
            products.push(ShopifyProduct { is_active, ..p });
        }
        let failed: HashSet<&str> = self
            .problems
            .iter()
            .filter(|p| p.level == Level::Error)
            .map(|p| p.handle.as_str())
            .collect();
        products.retain(|p| !failed.contains(p.handle.as_str()));
        self.problems.sort_by_key(|p| p.row);
        Parsed {
            dialect: self.columns.dialect,
            products,
            ignored_columns: self.columns.ignored.clone(),
            problems: self.problems,
        }
    }

    /// The warnings that say why a product imports inactive.
    fn activity(&mut self, p: &ShopifyProduct) {
        if p.status != Status::Active {
            let status = if p.status == Status::Draft {
                "draft"
            } else {
                "archived"
            };
            self.warning(
                p.row,
                &p.handle,
                Some(Field::Status),
                format!("{status} in Shopify: imported inactive"),
            );
        }
        if !p.published {
            self.warning(
                p.row,
                &p.handle,
                Some(Field::Published),
                "not published on the online store: imported inactive",
            );
        }
        let lacking: Vec<&str> = [
            (p.hsn.is_none(), "an HSN code"),
            (p.gst_rate.is_none(), "a GST rate"),
        ]
        .into_iter()
        .filter_map(|(missing, what)| missing.then_some(what))
        .collect();
        if !lacking.is_empty() {
            self.warning(
                p.row,
                &p.handle,
                None,
                format!(
                    "{NO_TAX} and no default gives {}: imported inactive until it has both",
                    lacking.join(" or ")
                ),
            );
        }
    }
}

/// How the warning about a product without HSN code or GST rate starts. It concerns only a
/// product the import creates: one the shop has keeps its own tax fields.
const NO_TAX: &str = "Shopify carries no HSN code or GST rate";

impl RowProblem {
    /// The warning that a new product imports inactive for want of HSN code or GST rate.
    pub fn is_missing_tax(&self) -> bool {
        self.level == Level::Warning && self.column.is_none() && self.message.starts_with(NO_TAX)
    }
}

/// The catalog's SKU alphabet: 1–64 of `A-Z a-z 0-9 - _ . /`.
pub(crate) fn is_valid_sku(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
}

mod apply;
mod plan;

pub use apply::import;
pub use plan::{
    plan, plan_product, Action, Existing, Outcome, Plan, ProductCounts, Report, VariantCounts,
};

#[cfg(test)]
mod tests;
