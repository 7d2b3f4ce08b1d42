//! Explicit Jacobians, for inspection and teaching.
