//! Operations for admins only; the routes refuse everybody else first.

pub mod gc;
pub mod gpus;
pub mod report;
pub mod top;
pub mod usage;
