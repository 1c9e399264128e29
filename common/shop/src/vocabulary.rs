//! The words every other module is written in: money, ids, times and addresses. It uses
//! no other module of the shop.

pub mod address;
pub mod ids;
pub mod money;
pub mod time;
