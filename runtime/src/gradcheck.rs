//! Gradient checking by central finite differences in `f64`.
