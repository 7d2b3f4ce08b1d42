//! A `#![no_std]` + `alloc` library on chainrule without std: the network of
//! `network.rs`, its weights built into the program from the bytes of a
//! safetensors file, and its forward pass.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;

use chainrule::prelude::*;
use chainrule::weights::{self, ContentError};

include!("network.rs");

/// The weight file, built into the program (written by build.rs).
pub static WEIGHTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tiny.safetensors"));

/// The network with the built-in weights, checked as `weights::load` checks
/// a file: architecture, checksum, names, dtypes, shapes, finite values.
pub fn load() -> Result<Tiny<f32>, ContentError> {
    weights::load_from_bytes(WEIGHTS)
}

/// The class probabilities of any number of rows (`predict`: batches of 16,
/// then single rows).
pub fn classify(net: &Tiny<f32>, rows: &[[f32; 4]]) -> Vec<[f32; 3]> {
    net.predict(rows)
}

/// The forward pass over a batch of `B` rows.
pub fn forward<const B: usize>(net: &Tiny<f32>, x: &Matrix<f32, B, 4>) -> Matrix<f32, B, 3> {
    net.forward(x)
}
