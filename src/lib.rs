//! Shared helpers for ds01's engine-level integration tests and benchmarks.
