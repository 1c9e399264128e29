//! PhonePe Standard Checkout v2 client (see `shared/phonepe-v2.md`).

use crate::config::PhonePeConfig;

pub struct PhonePe {
    pub config: PhonePeConfig,
}

impl PhonePe {
    pub fn new(config: &PhonePeConfig) -> anyhow::Result<PhonePe> {
        Ok(PhonePe {
            config: config.clone(),
        })
    }
}
