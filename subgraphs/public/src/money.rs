//! Money: integer minor units and an ISO 4217 currency. Amounts travel as a
//! scalar of their own because public contracts exceed GraphQL's 32-bit `Int`.

use std::{collections::HashSet, sync::LazyLock};

use async_graphql::{InputObject, InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value};
use platform::{AppError, AppResult};

/// The largest amount a JSON number carries exactly (2^53 − 1).
pub const MAX_AMOUNT: i64 = 9_007_199_254_740_991;

/// OCDS 1.1.5's currency code list (ISO 4217), vendored from
/// github.com/open-contracting/standard at tag 1__1__5. Codes with a
/// "valid until" date are withdrawn and refused.
static CURRENCIES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/currency.csv")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut cols = l.split(',');
            let code = cols.next()?;
            let valid_until = l.rsplit(',').next().unwrap_or_default();
            valid_until.trim().is_empty().then_some(code)
        })
        .collect()
});

/// An amount in the currency's minor units (cents), a JSON integer from 0
/// to 2^53 − 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(pub i64);

/// An amount in the currency's minor units (cents): a JSON integer from 0 to 2^53 − 1.
#[Scalar(name = "Amount")]
impl ScalarType for Amount {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => match n.as_i64() {
                Some(v) if (0..=MAX_AMOUNT).contains(&v) => Ok(Amount(v)),
                _ => Err(InputValueError::custom(
                    "expected an integer from 0 to 9007199254740991",
                )),
            },
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

/// An amount of money.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct Money {
    /// In the currency's minor units (cents).
    pub amount: Amount,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
}

impl Money {
    pub fn new(amount: i64, currency: &str) -> Self {
        Money {
            amount: Amount(amount),
            currency: currency.to_string(),
        }
    }
}

/// An amount of money, as given.
#[derive(InputObject, Debug, Clone)]
pub struct MoneyInput {
    /// In the currency's minor units (cents).
    pub amount: Amount,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
}

/// The input's amount and currency, the currency checked against ISO 4217.
pub fn valid(field: &str, m: &MoneyInput) -> AppResult<(i64, String)> {
    let currency = m.currency.trim().to_ascii_uppercase();
    if !CURRENCIES.contains(currency.as_str()) {
        return Err(AppError::bad_input(
            format!("{field}.currency"),
            "is not an ISO 4217 currency",
        ));
    }
    Ok((m.amount.0, currency))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_come_from_the_ocds_code_list() {
        let m = |c: &str| MoneyInput {
            amount: Amount(1),
            currency: c.into(),
        };
        assert_eq!(valid("v", &m("eur")).unwrap(), (1, "EUR".to_string()));
        assert!(valid("v", &m("CZK")).is_ok());
        assert!(valid("v", &m("Kc")).is_err());
        assert!(valid("v", &m("XXX1")).is_err());
        assert!(CURRENCIES.len() > 150, "{}", CURRENCIES.len());
    }
}
