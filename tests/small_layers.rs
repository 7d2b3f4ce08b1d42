//! The forward pass of small layers (`chainrule::dense` picks the fixed-size
//! forms of `chainrule::small` for them) against the same network computed
//! by hand: one row and a batch, a NaN input, logits far apart.

use chainrule::prelude::*;

network! {
    /// Small enough for every form: dot products per output (one row, or 3
    /// outputs), the column form (16 outputs and a batch of 4 or more rows),
    /// relu written in the same pass.
    struct Small {
        hidden: Dense<4, 16> => relu,
        output: Dense<16, 3> => softmax,
        loss: cross_entropy,
    }
}

/// The network's output for one row, in plain loops over the parameters.
fn by_hand(net: &Small<f64>, x: [f64; 4]) -> [f64; 3] {
    let mut a1 = [0.0; 16];
    for (j, a) in a1.iter_mut().enumerate() {
        let mut z = net.hidden.bias[(0, j)];
        for (i, &xi) in x.iter().enumerate() {
            z += net.hidden.weight[(j, i)] * xi;
        }
        *a = if z > 0.0 { z } else { 0.0 };
    }
    let mut z2 = [0.0; 3];
    for (k, z) in z2.iter_mut().enumerate() {
        *z = net.output.bias[(0, k)];
        for (j, &aj) in a1.iter().enumerate() {
            *z += net.output.weight[(k, j)] * aj;
        }
    }
    let max = z2.iter().fold(f64::NEG_INFINITY, |m, &z| m.max(z));
    let e = z2.map(|z| (z - max).exp());
    let total: f64 = e.iter().sum();
    e.map(|e| e / total)
}

const ROWS: [[f64; 4]; 5] = [
    [0.5, -1.25, 2.0, 0.0],
    [-3.0, 0.75, 0.125, 1.5],
    [1.0, 1.0, 1.0, 1.0],
    [0.0, 0.0, 0.0, 0.0],
    [2.5, -0.5, -2.0, 4.0],
];

fn assert_close(what: &str, got: &[f64], want: &[f64], tolerance: f64) {
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tolerance * w.abs().max(1.0),
            "{what}: got {got:?}, want {want:?}"
        );
    }
}

fn network() -> Small<f64> {
    let mut net = Small::<f64>::new(11);
    // Non-zero biases, so that the bias terms are checked too.
    for j in 0..16 {
        net.hidden.bias[(0, j)] = 0.05 * j as f64 - 0.3;
    }
    net.output.bias = Matrix::from_rows([[0.2, -0.1, 0.4]]);
    net
}

#[test]
fn one_row_and_a_batch_agree_with_the_network_by_hand() {
    let net = network();
    let batch = net.forward(&Matrix::<f64, 5, 4>::from_rows(ROWS));
    for (r, row) in ROWS.iter().enumerate() {
        let want = by_hand(&net, *row);
        let one = net.forward(&Matrix::<f64, 1, 4>::from_rows([*row]));
        assert_close(&format!("row {r} alone"), one.row(0), &want, 1e-14);
        assert_close(&format!("row {r} in a batch"), batch.row(r), &want, 1e-14);
    }
}

#[test]
fn the_one_row_softmax_is_stable_and_keeps_nan() {
    let mut net = network();
    // Logits 2000 apart: exp of the raw logits would overflow.
    net.output.bias = Matrix::from_rows([[1000.0, -1000.0, 0.0]]);
    let one = net.forward(&Matrix::<f64, 1, 4>::from_rows([ROWS[0]]));
    assert_close(
        "far-apart logits",
        one.row(0),
        &by_hand(&net, ROWS[0]),
        1e-14,
    );
    assert!(one.row(0).iter().all(|p| p.is_finite()));

    let nan = net.forward(&Matrix::<f64, 1, 4>::from_rows([[f64::NAN, 0.0, 1.0, 2.0]]));
    assert!(nan.row(0).iter().all(|p| p.is_nan()), "{:?}", nan.row(0));
}

#[test]
fn f32_one_row_matches_the_batch() {
    let net = Small::<f32>::new(5);
    let rows = ROWS.map(|r| r.map(|v| v as f32));
    let batch = net.forward(&Matrix::<f32, 5, 4>::from_rows(rows));
    for (r, row) in rows.iter().enumerate() {
        let one = net.forward(&Matrix::<f32, 1, 4>::from_rows([*row]));
        for (g, w) in one.row(0).iter().zip(batch.row(r)) {
            assert!(
                (g - w).abs() <= 1e-6,
                "row {r}: {:?} vs {:?}",
                one.row(0),
                batch.row(r)
            );
        }
    }
}

network! {
    /// xor-shaped: tanh written with its layer, the sigmoid output of one
    /// row with the scalar function.
    struct Xor {
        hidden: Dense<2, 8> => tanh,
        output: Dense<8, 1> => sigmoid,
        loss: mse,
    }
}

#[test]
fn tanh_and_sigmoid_of_one_row_agree_with_the_network_by_hand() {
    let net = Xor::<f64>::new(3);
    let rows = [[0.0, 1.0], [1.0, 0.0], [-2.5, 0.75], [3.0, -1.0]];
    let batch = net.forward(&Matrix::<f64, 4, 2>::from_rows(rows));
    for (r, x) in rows.iter().enumerate() {
        let mut z2 = net.output.bias[(0, 0)];
        for j in 0..8 {
            let z1 = net.hidden.bias[(0, j)]
                + net.hidden.weight[(j, 0)] * x[0]
                + net.hidden.weight[(j, 1)] * x[1];
            z2 += net.output.weight[(0, j)] * z1.tanh();
        }
        let want = [1.0 / (1.0 + (-z2).exp())];
        let one = net.forward(&Matrix::<f64, 1, 2>::from_rows([*x]));
        assert_close(&format!("row {r} alone"), one.row(0), &want, 1e-14);
        assert_close(&format!("row {r} in a batch"), batch.row(r), &want, 1e-14);
    }
}
