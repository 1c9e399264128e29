//! The order's tax, computed once at checkout from tax-inclusive prices and locked into the
//! order, so the invoice printed weeks later shows exactly what the customer was charged.

use super::gstin::Gstin;
use super::rate::{GstRate, Hsn};
use super::state::{gst_state_code, GstState};
use crate::vocabulary::ids::ProductId;
use crate::vocabulary::money::Paise;
use serde::{Deserialize, Serialize};

/// The contract's rule: the fee, unless a threshold is set and the discounted subtotal
/// reaches it. Judged after the discount so a coupon cannot buy free shipping it took away.
pub fn shipping_fee(subtotal: Paise, discount: Paise, fee: Paise, free_min: Paise) -> Paise {
    if free_min > Paise::ZERO && subtotal - discount >= free_min {
        Paise::ZERO
    } else {
        fee
    }
}

/// One cart line as checkout knows it after re-reading the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxLineInput {
    pub product_id: ProductId,
    pub hsn: Hsn,
    pub rate: GstRate,
    /// Tax-inclusive price × quantity, before the coupon.
    pub line_total: Paise,
}

/// Why an order cannot be taxed; each is a bug or bad data upstream except `NoStateCode`,
/// which checkout reports as a field error on the shipping address's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxError {
    #[error("an order needs at least one line to be taxed")]
    NoLines,
    #[error("{0:?} is not a state or union territory with a GST state code")]
    NoStateCode(String),
    #[error("line {0} has a negative total")]
    NegativeLineTotal(ProductId),
    #[error("the discount {0} is negative")]
    NegativeDiscount(Paise),
    #[error("the discount {discount} is more than the subtotal {subtotal}")]
    DiscountExceedsSubtotal { discount: Paise, subtotal: Paise },
    #[error("the shipping fee {0} is negative")]
    NegativeShippingFee(Paise),
    #[error("the order's amounts overflow")]
    Overflow,
}

fn product_id_hex<S: serde::Serializer>(id: &ProductId, s: S) -> Result<S::Ok, S::Error> {
    crate::vocabulary::ids::hex(&id.0, s)
}

/// One line of the stored `tax.lines`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineTax {
    #[serde(serialize_with = "product_id_hex")]
    pub product_id: ProductId,
    pub hsn: Hsn,
    pub rate: GstRate,
    pub taxable_value: Paise,
    pub cgst: Paise,
    pub sgst: Paise,
    pub igst: Paise,
}

impl LineTax {
    pub fn tax(&self) -> Paise {
        self.cgst + self.sgst + self.igst
    }

    /// What the customer paid for the line: its discount share is `line_total − value()`,
    /// which invoices and credit notes need and the stored object need not repeat.
    pub fn value(&self) -> Paise {
        self.taxable_value + self.tax()
    }
}

/// The stored `tax.shipping`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippingTax {
    pub rate: GstRate,
    pub taxable_value: Paise,
    pub cgst: Paise,
    pub sgst: Paise,
    pub igst: Paise,
}

impl ShippingTax {
    pub fn tax(&self) -> Paise {
        self.cgst + self.sgst + self.igst
    }
}

/// The order's stored `tax` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderTax {
    pub seller_state: GstState,
    pub place_of_supply: GstState,
    pub inter_state: bool,
    pub lines: Vec<LineTax>,
    pub shipping: ShippingTax,
    pub taxable_value: Paise,
    pub cgst: Paise,
    pub sgst: Paise,
    pub igst: Paise,
    pub total_tax: Paise,
}

impl OrderTax {
    /// Always the order's `total`: nothing is lost or invented by rounding.
    pub fn total(&self) -> Paise {
        self.taxable_value + self.total_tax
    }
}

/// Spreads `discount` over the lines in proportion to their totals, in whole paise, by the
/// largest-remainder method: every line first gets the floor of its exact share, and the
/// paise left over go one each to the lines whose exact shares lost the most to the floor.
/// Rounding each share on its own would make the shares miss the discount by a paisa or
/// two, and then the taxable values plus tax would no longer add up to the total.
///
/// Equal remainders are broken by product id (then the line's own data), never by position,
/// so the same cart gives the same split however its lines are ordered. Shares come back in
/// the lines' order.
pub fn split_discount(lines: &[TaxLineInput], discount: Paise) -> Result<Vec<Paise>, TaxError> {
    let subtotal = checked_subtotal(lines)?;
    check_discount(discount, subtotal)?;
    let keyed: Vec<_> = lines
        .iter()
        .map(|l| {
            let key = (l.product_id.0.bytes(), l.line_total, l.rate, l.hsn.clone());
            (key, l.line_total)
        })
        .collect();
    Ok(largest_remainder(&keyed, discount, subtotal))
}

/// The same split for lines known only by product and total (a refund of an order's lines):
/// the shares each line's units gave up of the order's discount.
pub fn split_discount_by_totals(
    lines: &[(ProductId, Paise)],
    discount: Paise,
) -> Result<Vec<Paise>, TaxError> {
    let subtotal = lines.iter().try_fold(Paise::ZERO, |sum, (id, total)| {
        if *total < Paise::ZERO {
            return Err(TaxError::NegativeLineTotal(*id));
        }
        sum.checked_add(*total).ok_or(TaxError::Overflow)
    })?;
    check_discount(discount, subtotal)?;
    let keyed: Vec<_> = lines
        .iter()
        .map(|(id, total)| ((id.0.bytes(), *total), *total))
        .collect();
    Ok(largest_remainder(&keyed, discount, subtotal))
}

/// Largest-remainder split of `discount` (checked: 0 ≤ discount ≤ subtotal) over `lines`
/// (tie-break key, line total); equal remainders go by key, never by position.
fn largest_remainder<K: Ord>(lines: &[(K, Paise)], discount: Paise, subtotal: Paise) -> Vec<Paise> {
    let (d, s) = (i128::from(discount.get()), i128::from(subtotal.get()));
    if d == 0 {
        return vec![Paise::ZERO; lines.len()];
    }
    // d > 0 and d <= s, so s > 0 here.
    let mut shares: Vec<i128> = Vec::with_capacity(lines.len());
    let mut remainders: Vec<i128> = Vec::with_capacity(lines.len());
    for (_, total) in lines {
        let exact = d * i128::from(total.get());
        shares.push(exact / s);
        remainders.push(exact % s);
    }
    let left = d - shares.iter().sum::<i128>();
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by(|&a, &b| {
        remainders[b]
            .cmp(&remainders[a])
            .then_with(|| lines[a].0.cmp(&lines[b].0))
    });
    // Fewer paise are left than there are lines, since each line lost less than one.
    for &i in order.iter().take(left as usize) {
        shares[i] += 1;
    }
    shares.into_iter().map(|x| Paise(x as i64)).collect()
}

/// The tax inside a tax-inclusive `value`: `round_half_up(value × rate / (10000 + rate))`.
fn included_tax(value: Paise, rate: GstRate) -> Paise {
    let (v, r) = (i128::from(value.get()), i128::from(rate.basis_points()));
    let d = 10_000 + r;
    Paise(((2 * v * r + d) / (2 * d)) as i64)
}

/// `(cgst, sgst, igst)`. CGST takes the odd paisa (`ceil`) so that the split is one fixed
/// rule, the same on every invoice and credit note, and the halves still add up to the tax.
fn split(tax: Paise, inter_state: bool) -> (Paise, Paise, Paise) {
    if inter_state {
        (Paise::ZERO, Paise::ZERO, tax)
    } else {
        let cgst = Paise((tax.get() + 1) / 2);
        (cgst, tax - cgst, Paise::ZERO)
    }
}

fn checked_subtotal(lines: &[TaxLineInput]) -> Result<Paise, TaxError> {
    lines.iter().try_fold(Paise::ZERO, |sum, line| {
        if line.line_total < Paise::ZERO {
            return Err(TaxError::NegativeLineTotal(line.product_id));
        }
        sum.checked_add(line.line_total).ok_or(TaxError::Overflow)
    })
}

fn check_discount(discount: Paise, subtotal: Paise) -> Result<(), TaxError> {
    if discount < Paise::ZERO {
        return Err(TaxError::NegativeDiscount(discount));
    }
    if discount > subtotal {
        return Err(TaxError::DiscountExceedsSubtotal { discount, subtotal });
    }
    Ok(())
}

/// The contract's five steps. `discount` is the discount checkout locks in (after the ₹1.00
/// PhonePe floor), `shipping_fee` what [`shipping_fee`] gave, and `place_of_supply` the
/// shipping address's state. The result's `total()` is `subtotal − discount + shipping_fee`.
pub fn compute_tax(
    seller: &Gstin,
    place_of_supply: &str,
    lines: &[TaxLineInput],
    discount: Paise,
    shipping_fee: Paise,
) -> Result<OrderTax, TaxError> {
    if lines.is_empty() {
        return Err(TaxError::NoLines);
    }
    let supply = gst_state_code(place_of_supply)
        .ok_or_else(|| TaxError::NoStateCode(place_of_supply.to_owned()))?;
    if shipping_fee < Paise::ZERO {
        return Err(TaxError::NegativeShippingFee(shipping_fee));
    }
    let subtotal = checked_subtotal(lines)?;
    subtotal
        .checked_add(shipping_fee)
        .ok_or(TaxError::Overflow)?;
    let shares = split_discount(lines, discount)?;
    let inter_state = supply != seller.state_code();

    let taxed: Vec<LineTax> = lines
        .iter()
        .zip(&shares)
        .map(|(line, share)| {
            let value = line.line_total - *share;
            let tax = included_tax(value, line.rate);
            let (cgst, sgst, igst) = split(tax, inter_state);
            LineTax {
                product_id: line.product_id,
                hsn: line.hsn.clone(),
                rate: line.rate,
                taxable_value: value - tax,
                cgst,
                sgst,
                igst,
            }
        })
        .collect();

    // Shipping is ancillary to the goods, so it follows the goods' (highest) rate.
    let shipping_rate = lines.iter().map(|l| l.rate).max().unwrap_or(GstRate::ZERO);
    let shipping_tax = included_tax(shipping_fee, shipping_rate);
    let (cgst, sgst, igst) = split(shipping_tax, inter_state);
    let shipping = ShippingTax {
        rate: shipping_rate,
        taxable_value: shipping_fee - shipping_tax,
        cgst,
        sgst,
        igst,
    };

    let sum = |f: &dyn Fn(&LineTax) -> Paise| taxed.iter().fold(Paise::ZERO, |a, l| a + f(l));
    let taxable_value = sum(&|l| l.taxable_value) + shipping.taxable_value;
    let cgst = sum(&|l| l.cgst) + shipping.cgst;
    let sgst = sum(&|l| l.sgst) + shipping.sgst;
    let igst = sum(&|l| l.igst) + shipping.igst;
    Ok(OrderTax {
        seller_state: seller.state_code().into(),
        place_of_supply: supply.into(),
        inter_state,
        lines: taxed,
        shipping,
        taxable_value,
        cgst,
        sgst,
        igst,
        total_tax: cgst + sgst + igst,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::oid::ObjectId;
    use proptest::prelude::*;

    fn pid(n: u8) -> ProductId {
        let mut b = [0u8; 12];
        b[11] = n;
        ProductId(ObjectId::from_bytes(b))
    }

    fn line(n: u8, total: i64, rate: u16) -> TaxLineInput {
        TaxLineInput {
            product_id: pid(n),
            hsn: Hsn::new("7418").unwrap(),
            rate: GstRate::from_basis_points(i64::from(rate)).unwrap(),
            line_total: Paise(total),
        }
    }

    fn seller() -> Gstin {
        Gstin::parse("33AABCP1234Q1ZE").unwrap()
    }

    /// (taxable, cgst, sgst, igst) of each line.
    fn amounts(t: &OrderTax) -> Vec<(i64, i64, i64, i64)> {
        t.lines
            .iter()
            .map(|l| (l.taxable_value.0, l.cgst.0, l.sgst.0, l.igst.0))
            .collect()
    }

    #[test]
    fn shipping_is_free_only_past_a_set_threshold_after_the_discount() {
        let fee = Paise(9_900);
        for (subtotal, discount, free_min, want) in [
            (100_000, 0, 0, 9_900),
            (100_000, 0, 100_000, 0),
            (100_000, 1, 100_000, 9_900),
            (150_000, 20_000, 100_000, 0),
            (110_000, 20_000, 100_000, 9_900),
            (0, 0, 0, 9_900),
        ] {
            assert_eq!(
                shipping_fee(Paise(subtotal), Paise(discount), fee, Paise(free_min)),
                Paise(want),
                "{subtotal} - {discount} vs {free_min}"
            );
        }
    }

    #[test]
    fn the_worked_example_within_tamil_nadu() {
        let t = compute_tax(
            &seller(),
            "Tamil Nadu",
            &[line(1, 249_900, 500)],
            Paise(20_000),
            Paise::ZERO,
        )
        .unwrap();
        assert!(!t.inter_state);
        assert_eq!(t.seller_state.code, "33");
        assert_eq!(t.place_of_supply.name, "Tamil Nadu");
        assert_eq!(t.taxable_value.format_inr(), "₹2,189.52");
        assert_eq!(t.cgst.format_inr(), "₹54.74");
        assert_eq!(t.sgst.format_inr(), "₹54.74");
        assert_eq!(t.igst, Paise::ZERO);
        assert_eq!(t.total_tax, Paise(10_948));
        assert_eq!(t.total(), Paise(229_900));
        assert_eq!(t.lines[0].value(), Paise(229_900));
    }

    #[test]
    fn the_worked_example_shipped_to_karnataka() {
        let t = compute_tax(
            &seller(),
            "Karnataka",
            &[line(1, 249_900, 500)],
            Paise(20_000),
            Paise::ZERO,
        )
        .unwrap();
        assert!(t.inter_state);
        assert_eq!(t.place_of_supply.code, "29");
        assert_eq!(t.taxable_value.format_inr(), "₹2,189.52");
        assert_eq!(t.igst.format_inr(), "₹109.48");
        assert_eq!((t.cgst, t.sgst), (Paise::ZERO, Paise::ZERO));
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            lines: Vec<TaxLineInput>,
            discount: i64,
            shipping: i64,
            to: &'static str,
            want_lines: Vec<(i64, i64, i64, i64)>,
            want_shipping: (u16, i64, i64, i64, i64),
        }
        let cases = [
            Case {
                name: "multi-line, mixed rates, remainders go to the largest fractions",
                lines: vec![
                    line(1, 100_000, 500),
                    line(2, 50_000, 1800),
                    line(3, 30_001, 1200),
                ],
                discount: 10_000,
                shipping: 0,
                to: "tamil nadu",
                want_lines: vec![
                    (89_948, 2_249, 2_248, 0),
                    (40_019, 3_602, 3_601, 0),
                    (25_298, 1_518, 1_518, 0),
                ],
                want_shipping: (1800, 0, 0, 0, 0),
            },
            Case {
                name: "zero-rated goods make shipping zero-rated too",
                lines: vec![line(1, 50_000, 0), line(2, 25_000, 0)],
                discount: 1_001,
                shipping: 5_000,
                to: "Kerala",
                want_lines: vec![(49_333, 0, 0, 0), (24_666, 0, 0, 0)],
                want_shipping: (0, 5_000, 0, 0, 0),
            },
            Case {
                name: "shipping is taxed at the highest line rate",
                lines: vec![line(1, 249_900, 500), line(2, 10_000, 1800)],
                discount: 0,
                shipping: 9_900,
                to: "Tamil Nadu",
                want_lines: vec![(238_000, 5_950, 5_950, 0), (8_475, 763, 762, 0)],
                want_shipping: (1800, 8_390, 755, 755, 0),
            },
            Case {
                name: "shipping inter-state is all IGST",
                lines: vec![line(1, 249_900, 500), line(2, 10_000, 1800)],
                discount: 0,
                shipping: 9_900,
                to: "Delhi",
                want_lines: vec![(238_000, 0, 0, 11_900), (8_475, 0, 0, 1_525)],
                want_shipping: (1800, 8_390, 0, 0, 1_510),
            },
            Case {
                name: "an odd paisa of tax goes to CGST",
                lines: vec![line(1, 10_521, 500)],
                discount: 0,
                shipping: 0,
                to: "Tamil Nadu",
                want_lines: vec![(10_020, 251, 250, 0)],
                want_shipping: (500, 0, 0, 0, 0),
            },
            Case {
                name: "a coupon covering everything leaves nothing to tax",
                lines: vec![line(1, 49_900, 1800), line(2, 100, 500)],
                discount: 50_000,
                shipping: 0,
                to: "Ladakh",
                want_lines: vec![(0, 0, 0, 0), (0, 0, 0, 0)],
                want_shipping: (1800, 0, 0, 0, 0),
            },
            Case {
                // 16 × 2800 / 12800 is exactly 3.5; 1 × 2800 / 12800 is 0.22.
                name: "an exact half paisa of tax rounds up, less rounds down",
                lines: vec![line(1, 1, 2800), line(2, 16, 2800)],
                discount: 0,
                shipping: 0,
                to: "Tamil Nadu",
                want_lines: vec![(1, 0, 0, 0), (12, 2, 2, 0)],
                want_shipping: (2800, 0, 0, 0, 0),
            },
        ];
        for c in cases {
            let t = compute_tax(
                &seller(),
                c.to,
                &c.lines,
                Paise(c.discount),
                Paise(c.shipping),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
            assert_eq!(amounts(&t), c.want_lines, "{}", c.name);
            let s = &t.shipping;
            assert_eq!(
                (
                    s.rate.basis_points(),
                    s.taxable_value.0,
                    s.cgst.0,
                    s.sgst.0,
                    s.igst.0
                ),
                c.want_shipping,
                "{}",
                c.name
            );
            let subtotal: i64 = c.lines.iter().map(|l| l.line_total.0).sum();
            assert_eq!(
                t.total().0,
                subtotal - c.discount + c.shipping,
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn equal_remainders_go_to_the_smallest_product_id_wherever_it_sits() {
        for lines in [
            vec![
                line(3, 10_000, 500),
                line(1, 10_000, 500),
                line(2, 10_000, 500),
            ],
            vec![
                line(1, 10_000, 500),
                line(2, 10_000, 500),
                line(3, 10_000, 500),
            ],
            vec![
                line(2, 10_000, 500),
                line(3, 10_000, 500),
                line(1, 10_000, 500),
            ],
        ] {
            let shares = split_discount(&lines, Paise(100)).unwrap();
            for (l, share) in lines.iter().zip(shares) {
                let want = if l.product_id == pid(1) { 34 } else { 33 };
                assert_eq!(share, Paise(want));
            }
        }
    }

    #[test]
    fn bad_inputs_are_refused() {
        let s = seller();
        let one = [line(1, 10_000, 500)];
        assert_eq!(
            compute_tax(&s, "Tamil Nadu", &[], Paise::ZERO, Paise::ZERO),
            Err(TaxError::NoLines)
        );
        assert_eq!(
            compute_tax(&s, "Narnia", &one, Paise::ZERO, Paise::ZERO),
            Err(TaxError::NoStateCode("Narnia".into()))
        );
        assert_eq!(
            compute_tax(&s, "Goa", &one, Paise(10_001), Paise::ZERO),
            Err(TaxError::DiscountExceedsSubtotal {
                discount: Paise(10_001),
                subtotal: Paise(10_000)
            })
        );
        assert_eq!(
            compute_tax(&s, "Goa", &one, Paise(-1), Paise::ZERO),
            Err(TaxError::NegativeDiscount(Paise(-1)))
        );
        assert_eq!(
            compute_tax(&s, "Goa", &one, Paise::ZERO, Paise(-1)),
            Err(TaxError::NegativeShippingFee(Paise(-1)))
        );
        assert_eq!(
            compute_tax(&s, "Goa", &[line(1, -1, 500)], Paise::ZERO, Paise::ZERO),
            Err(TaxError::NegativeLineTotal(pid(1)))
        );
        assert_eq!(
            compute_tax(
                &s,
                "Goa",
                &[line(1, i64::MAX, 500), line(2, 1, 500)],
                Paise::ZERO,
                Paise::ZERO
            ),
            Err(TaxError::Overflow)
        );
    }

    #[test]
    fn the_stored_shape_is_the_contracts_and_round_trips() {
        let t = compute_tax(
            &seller(),
            "Karnataka",
            &[line(1, 249_900, 500)],
            Paise(20_000),
            Paise(4_900),
        )
        .unwrap();
        let json = serde_json::to_value(&t).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "cgst",
                "igst",
                "interState",
                "lines",
                "placeOfSupply",
                "sellerState",
                "sgst",
                "shipping",
                "taxableValue",
                "totalTax"
            ]
        );
        assert_eq!(json["lines"][0]["productId"], pid(1).to_string());
        assert_eq!(json["lines"][0]["hsn"], "7418");
        assert_eq!(json["lines"][0]["rate"], 500);
        assert_eq!(json["lines"][0]["taxableValue"], 218_952);
        assert_eq!(json["shipping"]["rate"], 500);
        assert_eq!(json["placeOfSupply"]["code"], "29");
        let back: OrderTax = serde_json::from_value(json).unwrap();
        assert_eq!(back, t);
        let doc = mongodb::bson::to_document(&t).unwrap();
        assert_eq!(mongodb::bson::from_document::<OrderTax>(doc).unwrap(), t);
        let raw = mongodb::bson::to_vec(&t).unwrap();
        assert_eq!(mongodb::bson::from_slice::<OrderTax>(&raw).unwrap(), t);
    }

    fn cart() -> impl Strategy<Value = (Vec<TaxLineInput>, i64, i64, bool, Vec<usize>)> {
        let lines = prop::collection::vec(
            (
                0u8..6,
                1i64..=5_000_000,
                1i64..=10,
                prop::sample::select(GstRate::ALLOWED.to_vec()),
            ),
            1..8,
        )
        .prop_map(|raw| {
            // One line per product, as in a cart, though ids may sort in any order.
            raw.into_iter()
                .enumerate()
                .map(|(i, (salt, price, qty, rate))| line((i as u8) * 7 + salt, price * qty, rate))
                .collect::<Vec<_>>()
        });
        (lines, 0u64..=u64::MAX, 0i64..=50_000, any::<bool>()).prop_flat_map(
            |(lines, d, ship, inter)| {
                let subtotal: i64 = lines.iter().map(|l| l.line_total.0).sum();
                let discount = (d % (subtotal as u64 + 1)) as i64;
                let n = lines.len();
                (
                    Just(lines),
                    Just(discount),
                    Just(ship),
                    Just(inter),
                    Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
                )
            },
        )
    }

    fn sorted_lines(t: &OrderTax) -> Vec<LineTax> {
        let mut v = t.lines.clone();
        v.sort_by_key(|l| l.product_id.0.bytes());
        v
    }

    proptest! {
        #[test]
        fn tax_adds_up_whatever_the_cart((lines, discount, ship, inter, perm) in cart()) {
            let to = if inter { "Karnataka" } else { "Tamil Nadu" };
            let t = compute_tax(&seller(), to, &lines, Paise(discount), Paise(ship)).unwrap();
            let shares = split_discount(&lines, Paise(discount)).unwrap();
            prop_assert_eq!(shares.iter().map(|s| s.0).sum::<i64>(), discount);
            for (l, share) in lines.iter().zip(&shares) {
                prop_assert!(share.0 >= 0 && *share <= l.line_total);
            }
            let subtotal: i64 = lines.iter().map(|l| l.line_total.0).sum();
            prop_assert_eq!(t.total().0, subtotal - discount + ship);
            prop_assert_eq!(t.inter_state, inter);

            for (l, (input, share)) in t.lines.iter().zip(lines.iter().zip(&shares)) {
                for a in [l.taxable_value, l.cgst, l.sgst, l.igst] {
                    prop_assert!(a.0 >= 0);
                }
                prop_assert_eq!(l.value(), input.line_total - *share);
                let tax = included_tax(l.value(), l.rate);
                if inter {
                    prop_assert_eq!((l.cgst, l.sgst, l.igst), (Paise::ZERO, Paise::ZERO, tax));
                } else {
                    prop_assert_eq!(l.cgst + l.sgst, tax);
                    prop_assert!(l.cgst.0 - l.sgst.0 == 0 || l.cgst.0 - l.sgst.0 == 1);
                    prop_assert_eq!(l.igst, Paise::ZERO);
                }
            }
            let s = &t.shipping;
            for a in [s.taxable_value, s.cgst, s.sgst, s.igst] {
                prop_assert!(a.0 >= 0);
            }
            prop_assert_eq!(s.taxable_value + s.tax(), Paise(ship));
            prop_assert_eq!(Some(s.rate), lines.iter().map(|l| l.rate).max());
            prop_assert_eq!(t.cgst + t.sgst + t.igst, t.total_tax);
            if inter {
                prop_assert_eq!(t.igst, t.total_tax);
            } else {
                prop_assert_eq!(t.cgst + t.sgst, t.total_tax);
            }

            let shuffled: Vec<TaxLineInput> = perm.iter().map(|&i| lines[i].clone()).collect();
            let u = compute_tax(&seller(), to, &shuffled, Paise(discount), Paise(ship)).unwrap();
            prop_assert_eq!(sorted_lines(&t), sorted_lines(&u));
            prop_assert_eq!((t.taxable_value, t.total_tax), (u.taxable_value, u.total_tax));
            prop_assert_eq!(t.shipping, u.shipping);
        }

        #[test]
        fn included_tax_is_the_nearest_paisa(value in 0i64..=1_000_000_000_000, rate in prop::sample::select(GstRate::ALLOWED.to_vec())) {
            let r = GstRate::from_basis_points(i64::from(rate)).unwrap();
            let tax = i128::from(included_tax(Paise(value), r).0);
            let (num, den) = (i128::from(value) * i128::from(rate), 10_000 + i128::from(rate));
            // |tax − exact| ≤ ½, with exact halves rounded up.
            prop_assert!(2 * (tax * den - num).abs() <= den);
            prop_assert!(2 * (num - tax * den) < den);
        }
    }
}
