//! Writes `$OUT_DIR/tiny.safetensors`: the weights of `Tiny` (src/network.rs)
//! as `chainrule::weights` writes them, with the entries of
//! src/weights_formula.rs. src/lib.rs builds the file into the program.

use chainrule::prelude::*;

include!("src/network.rs");
include!("src/weights_formula.rs");

fn main() {
    println!("cargo::rerun-if-changed=src/network.rs");
    println!("cargo::rerun-if-changed=src/weights_formula.rs");
    let mut net = Tiny::<f32>::zeros();
    net.visit_mut(&mut |info, values| {
        for (k, v) in values.iter_mut().enumerate() {
            *v = formula(info.index, k);
        }
    });
    let bytes = chainrule::weights::to_bytes(&net).expect("finite weights serialise");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("tiny.safetensors"), bytes).expect("OUT_DIR is writable");
}
