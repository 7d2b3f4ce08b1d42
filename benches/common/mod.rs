//! What the benchmarks share with `peer-bench/` (which includes this folder by
//! path): the five workloads of issue 5, their data and initial weights, the
//! chainrule networks, and the hand-written plain-loop baseline.
#![allow(dead_code)] // each includer uses a different part

pub mod data;
pub mod handwritten;
pub mod nets;
