//! Amounts in words as Indian tax invoices print them: lakh and crore, not million, so the
//! words read the way the digits are grouped (`₹1,29,900.00`).

use crate::vocabulary::money::Paise;

const ONES: [&str; 20] = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
];
const TENS: [&str; 10] = [
    "", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety",
];

/// 1..=99, hyphenated as in "Ninety-Nine".
fn below_hundred(n: u64) -> String {
    match n {
        0..=19 => ONES[n as usize].to_owned(),
        _ if n.is_multiple_of(10) => TENS[(n / 10) as usize].to_owned(),
        _ => format!("{}-{}", TENS[(n / 10) as usize], ONES[(n % 10) as usize]),
    }
}

/// 1..=999.
fn below_thousand(n: u64) -> String {
    match (n / 100, n % 100) {
        (0, rest) => below_hundred(rest),
        (h, 0) => format!("{} Hundred", ONES[h as usize]),
        (h, rest) => format!("{} Hundred {}", ONES[h as usize], below_hundred(rest)),
    }
}

/// Any whole number, grouped as crore, lakh, thousand and the rest; beyond 99 crore the
/// crore count is itself spelled in the same way ("One Hundred Crore").
fn number(n: u64) -> String {
    if n == 0 {
        return ONES[0].to_owned();
    }
    let mut parts = Vec::new();
    let crore = n / 10_000_000;
    let lakh = n / 100_000 % 100;
    let thousand = n / 1_000 % 100;
    let rest = n % 1_000;
    if crore > 0 {
        parts.push(format!("{} Crore", number(crore)));
    }
    if lakh > 0 {
        parts.push(format!("{} Lakh", below_hundred(lakh)));
    }
    if thousand > 0 {
        parts.push(format!("{} Thousand", below_hundred(thousand)));
    }
    if rest > 0 {
        parts.push(below_thousand(rest));
    }
    parts.join(" ")
}

/// "Rupees Two Thousand Two Hundred Ninety-Nine Only", "… and Fifty Paise Only".
/// A negative amount never appears on an invoice; it is spelled by its magnitude.
pub fn amount_in_words(amount: Paise) -> String {
    let paise = amount.get().unsigned_abs();
    let (rupees, rest) = (paise / 100, paise % 100);
    if rest == 0 {
        format!("Rupees {} Only", number(rupees))
    } else {
        format!(
            "Rupees {} and {} Paise Only",
            number(rupees),
            below_hundred(rest)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_spelled_in_lakh_and_crore() {
        let cases = [
            (0, "Rupees Zero Only"),
            (100, "Rupees One Only"),
            (
                2_299 * 100,
                "Rupees Two Thousand Two Hundred Ninety-Nine Only",
            ),
            (
                2_299 * 100 + 50,
                "Rupees Two Thousand Two Hundred Ninety-Nine and Fifty Paise Only",
            ),
            (1, "Rupees Zero and One Paise Only"),
            (
                129_900 * 100,
                "Rupees One Lakh Twenty-Nine Thousand Nine Hundred Only",
            ),
            (1_000_000 * 100, "Rupees Ten Lakh Only"),
            (
                20_500_000 * 100 + 7,
                "Rupees Two Crore Five Lakh and Seven Paise Only",
            ),
            (1_000_000_000 * 100, "Rupees One Hundred Crore Only"),
            (40 * 100, "Rupees Forty Only"),
            (1_000 * 100, "Rupees One Thousand Only"),
            (118 * 100, "Rupees One Hundred Eighteen Only"),
        ];
        for (paise, words) in cases {
            assert_eq!(amount_in_words(Paise(paise)), words, "{paise} paise");
        }
    }
}
