//! Runs the no_std build of the library on the host: chainrule here is
//! compiled without std (libm's functions, the portable kernels, the shared
//! pack buffers), whatever this test harness links.

use chainrule::prelude::*;
use chainrule::weights::ContentError;
use chainrule_no_std_check::{classify, forward, load, Tiny, WEIGHTS};

include!("../src/weights_formula.rs");

/// The layers' shapes `[out, in]` in parameter order, as declared.
const LAYERS: [(usize, usize); 3] = [(40, 4), (6, 40), (3, 6)];

/// The forward pass by hand in f64, from the formula's weights.
fn by_hand(row: &[f32; 4]) -> [f64; 3] {
    let mut a: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
    for (layer, &(out, inp)) in LAYERS.iter().enumerate() {
        let w = |i: usize, j: usize| f64::from(formula(2 * layer, i * inp + j));
        let b = |i: usize| f64::from(formula(2 * layer + 1, i));
        let z: Vec<f64> = (0..out)
            .map(|i| b(i) + (0..inp).map(|j| w(i, j) * a[j]).sum::<f64>())
            .collect();
        a = match layer {
            0 => z.iter().map(|&v| v.max(0.0)).collect(),
            1 => z.iter().map(|&v| v.tanh()).collect(),
            _ => {
                let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = z.iter().map(|&v| (v - m).exp()).collect();
                let s: f64 = e.iter().sum();
                e.iter().map(|&v| v / s).collect()
            }
        };
    }
    [a[0], a[1], a[2]]
}

/// 37 rows: two batches of 16 (blocked product) and 5 single rows.
fn rows() -> Vec<[f32; 4]> {
    (0..37)
        .map(|i| std::array::from_fn(|j| (2.5 * ((i * 4 + j) as f64 * 0.61).sin()) as f32))
        .collect()
}

#[test]
fn the_built_in_weights_load_with_every_entry_in_place() {
    let net = load().expect("the built-in weights load");
    let mut tensors = 0;
    net.visit(&mut |info, values| {
        tensors += 1;
        for (k, &v) in values.iter().enumerate() {
            assert_eq!(v, formula(info.index, k), "{}[{k}]", info.name);
        }
    });
    assert_eq!(tensors, 6);
}

#[test]
fn predict_and_forward_match_the_forward_pass_by_hand() {
    let net = load().unwrap();
    let rows = rows();
    let predicted = classify(&net, &rows);
    assert_eq!(predicted.len(), rows.len());
    let mut worst = 0.0f64;
    for (row, p) in rows.iter().zip(&predicted) {
        let expected = by_hand(row);
        for (got, want) in p.iter().zip(expected) {
            worst = worst.max((f64::from(*got) - want).abs());
        }
    }
    assert!(
        worst < 1e-5,
        "predict differs from the hand computation by {worst:e}"
    );

    // The generic forward over a batch of 3 and of 1 row.
    let x = Matrix::<f32, 3, 4>::from_rows([rows[0], rows[1], rows[2]]);
    let y = forward(&net, &x);
    let x1 = Matrix::<f32, 1, 4>::from_rows([rows[3]]);
    let y1 = forward(&net, &x1);
    for (got, row) in y.rows().chain(y1.rows()).zip(&rows) {
        for (g, w) in got.iter().zip(by_hand(row)) {
            assert!((f64::from(*g) - w).abs() < 1e-5, "forward: {g} vs {w}");
        }
    }
}

#[test]
fn damaged_or_foreign_bytes_are_typed_errors() {
    // Truncated: a typed error, never a panic.
    for len in [0, 7, 8, WEIGHTS.len() / 2, WEIGHTS.len() - 1] {
        assert!(
            chainrule::weights::load_from_bytes::<Tiny<f32>>(&WEIGHTS[..len]).is_err(),
            "{len} bytes loaded"
        );
    }
    // A flipped bit in the last tensor's data: the checksum catches it.
    let mut flipped = WEIGHTS.to_vec();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x10;
    assert!(matches!(
        chainrule::weights::load_from_bytes::<Tiny<f32>>(&flipped),
        Err(ContentError::ChecksumMismatch { .. })
    ));
    // Another network's weights: refused by architecture.
    network! {
        /// The same shapes, another declaration.
        pub struct Other {
            hidden: Dense<4, 40> => relu,
            middle: Dense<40, 6> => sigmoid,
            output: Dense<6, 3> => softmax,
            loss: cross_entropy,
        }
    }
    assert!(matches!(
        chainrule::weights::load_from_bytes::<Other<f32>>(WEIGHTS),
        Err(ContentError::WrongArchitecture { .. })
    ));
}
