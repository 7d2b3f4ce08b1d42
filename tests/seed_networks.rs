//! The three networks of DESIGN.md §1, reproduced exactly.
//!
//! Every expected value below is derived by hand from the formulas of
//! DESIGN.md §1 (rules 3, 5, 6, 7 and the fused output gradients) and
//! evaluated here in plain `f64` scalar arithmetic over arrays, without the
//! runtime's matrix code, so a mistake in the generated backward pass cannot
//! also hide in the expectation.

use chainrule::prelude::*;

/// Generated and hand-derived values agree to this absolute tolerance (all
/// values are of order 1, so it is also a relative one).
const EXACT: f64 = 1e-12;

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[track_caller]
fn assert_close(what: &str, got: f64, expected: f64) {
    assert!(
        (got - expected).abs() <= EXACT,
        "{what}: generated {got:e}, derived by hand {expected:e} (difference {:e})",
        (got - expected).abs()
    );
}

#[track_caller]
fn assert_matrix<const R: usize, const C: usize>(
    what: &str,
    got: &Matrix<f64, R, C>,
    expected: [[f64; C]; R],
) {
    for (i, row) in expected.iter().enumerate() {
        for (j, &e) in row.iter().enumerate() {
            assert_close(&format!("{what}[{i}, {j}]"), got[(i, j)], e);
        }
    }
}

/// Fills every parameter of `grads` with a value no gradient has, so a test
/// can see that `backward` overwrites rather than accumulates.
fn poison<P: Parameters<Scalar = f64>>(grads: &mut P) {
    grads.visit_mut(&mut |_, values| values.fill(1.0e6));
}

// ---------------------------------------------------------------------------
// Network I: one sample, scalar x → scalar hidden → scalar output, regression.
// ---------------------------------------------------------------------------

network! {
    /// Network I: 1 → 1 sigmoid → 1 identity, sum of squared errors.
    struct NetworkOne {
        hidden: Dense<1, 1> => sigmoid,
        output: Dense<1, 1> => identity,
        loss: sse,
    }
}

/// Network I with x = 2, y = 1, w1 = 0.5, b1 = −0.25, w2 = 1.5, b2 = 0.2.
///
/// Forward:
///   z1 = w1·x + b1 = 0.5·2 − 0.25            = 0.75
///   a1 = σ(z1)     = 1/(1 + e^−0.75)          = 0.679178699175393
///   z2 = w2·a1 + b2 = 1.5·0.6791786… + 0.2    = 1.2187680487630894
///   a2 = z2 (identity)
///   l  = (a2 − y)² = 0.2187680…²              = 0.04785945915960947
/// Backward (∂l/∂l = 1):
///   dl/da2 = 2(a2 − y)                        = 0.43753609752617884
///   dl/dz2 = dl/da2 · 1 (rule 7, identity)    = 0.43753609752617884
///   dl/dw2 = dl/dz2 · a1 (rule 3)             = 0.297165197560108
///   dl/db2 = dl/dz2                           = 0.43753609752617884
///   dl/da1 = w2 · dl/dz2 (rule 1)             = 0.6563041462892683
///   dl/dz1 = dl/da1 · a1(1 − a1) (rule 7)     = 0.14300538786155279
///   dl/dw1 = dl/dz1 · x (rule 3)              = 0.28601077572310557
///   dl/db1 = dl/dz1                           = 0.14300538786155279
#[test]
fn network_one_matches_the_hand_derivation() {
    let (x, y) = (2.0, 1.0);
    let (w1, b1, w2, b2) = (0.5, -0.25, 1.5, 0.2);

    // The derivation above, evaluated in f64.
    let z1 = w1 * x + b1;
    let a1 = sigmoid(z1);
    let z2 = w2 * a1 + b2;
    let a2 = z2;
    let loss = (a2 - y) * (a2 - y);
    let dl_dz2 = 2.0 * (a2 - y);
    let dl_dw2 = dl_dz2 * a1;
    let dl_db2 = dl_dz2;
    let dl_da1 = w2 * dl_dz2;
    let dl_dz1 = dl_da1 * a1 * (1.0 - a1);
    let dl_dw1 = dl_dz1 * x;
    let dl_db1 = dl_dz1;
    // The decimals of the comment, so the comment cannot drift from the code.
    assert_close("z1", z1, 0.75);
    assert_close("a1", a1, 0.679178699175393);
    assert_close("loss", loss, 0.04785945915960947);
    assert_close("dl/dw1", dl_dw1, 0.28601077572310557);

    let mut net = NetworkOne::<f64>::zeros();
    net.hidden.weight = Matrix::from_rows([[w1]]);
    net.hidden.bias = Matrix::from_rows([[b1]]);
    net.output.weight = Matrix::from_rows([[w2]]);
    net.output.bias = Matrix::from_rows([[b2]]);
    let xs = Matrix::<f64, 1, 1>::from_rows([[x]]);
    let ys = Matrix::<f64, 1, 1>::from_rows([[y]]);

    assert_close("forward", net.forward(&xs)[(0, 0)], a2);
    assert_close("loss()", net.loss(&xs, &ys), loss);

    let mut grads = net.gradients();
    poison(&mut grads);
    let mut ws = net.workspace::<1>();
    let returned = net.backward(&xs, &ys, &mut grads, &mut ws);
    assert_close("backward's loss", returned, loss);
    assert_close("dl/dw1", grads.hidden.weight[(0, 0)], dl_dw1);
    assert_close("dl/db1", grads.hidden.bias[(0, 0)], dl_db1);
    assert_close("dl/dw2", grads.output.weight[(0, 0)], dl_dw2);
    assert_close("dl/db2", grads.output.bias[(0, 0)], dl_db2);

    // A second call overwrites: the same values, not twice them.
    net.backward(&xs, &ys, &mut grads, &mut ws);
    assert_close(
        "dl/dw1 after a second backward",
        grads.hidden.weight[(0, 0)],
        dl_dw1,
    );
    assert_close(
        "dl/db2 after a second backward",
        grads.output.bias[(0, 0)],
        dl_db2,
    );
}

/// One step of plain gradient descent on Network I moves every parameter by
/// exactly −lr · its hand-derived gradient, and lowers the loss.
#[test]
fn network_one_sgd_step_follows_the_gradient() {
    let mut net = NetworkOne::<f64>::zeros();
    net.hidden.weight = Matrix::from_rows([[0.5]]);
    net.hidden.bias = Matrix::from_rows([[-0.25]]);
    net.output.weight = Matrix::from_rows([[1.5]]);
    net.output.bias = Matrix::from_rows([[0.2]]);
    let xs = Matrix::<f64, 1, 1>::from_rows([[2.0]]);
    let ys = Matrix::<f64, 1, 1>::from_rows([[1.0]]);
    let mut grads = net.gradients();
    let mut ws = net.workspace::<1>();
    let before = net.backward(&xs, &ys, &mut grads, &mut ws);
    let lr = 0.1;
    net.sgd_step(&grads, lr);
    // The gradients of the comment above network_one_matches_the_hand_derivation.
    assert_close(
        "w1",
        net.hidden.weight[(0, 0)],
        0.5 - lr * 0.28601077572310557,
    );
    assert_close(
        "b1",
        net.hidden.bias[(0, 0)],
        -0.25 - lr * 0.14300538786155279,
    );
    assert_close(
        "w2",
        net.output.weight[(0, 0)],
        1.5 - lr * 0.297165197560108,
    );
    assert_close(
        "b2",
        net.output.bias[(0, 0)],
        0.2 - lr * 0.43753609752617884,
    );
    assert!(net.loss(&xs, &ys) < before);
}

// ---------------------------------------------------------------------------
// Network II: one sample, x ∈ ℝ³ → hidden ℝ² (sigmoid) → scalar sigmoid
// output, binary cross-entropy.
// ---------------------------------------------------------------------------

network! {
    /// Network II: 3 → 2 sigmoid → 1 sigmoid, binary cross-entropy.
    pub struct NetworkTwo {
        hidden: Dense<3, 2> => sigmoid,
        output: Dense<2, 1> => sigmoid,
        loss: binary_cross_entropy,
    }
}

/// Network II in the column form of DESIGN.md §1 (one sample, x a column):
///
///   z1 = W1·x + b1            (2×3 · 3×1 + 2×1 = 2×1)
///   a1 = σ(z1)
///   z2 = w2·a1 + b2           (1×2 · 2×1 + 1 = scalar)
///   a2 = σ(z2)
///   l  = −[y ln a2 + (1 − y) ln(1 − a2)]   (mean over B·N = 1 entry)
///
///   dl/dz2 = a2 − y                      (sigmoid + BCE fused: the σ′ cancels)
///   dl/dw2 = dl/dz2 · a1ᵀ                (rule 3: 1×1 · 1×2 = 1×2, the shape of w2)
///   dl/db2 = dl/dz2
///   dl/da1 = w2ᵀ · dl/dz2                (rule 1/6: 2×1 · 1×1 = 2×1)
///   dl/dz1 = dl/da1 ⊗ a1 ⊗ (1 − a1)      (rule 7)
///   dl/dW1 = dl/dz1 · xᵀ                 (rule 3: 2×1 · 1×3 = 2×3, the shape of W1)
///   dl/db1 = dl/dz1
#[test]
fn network_two_matches_the_hand_derivation() {
    let x = [0.5, -1.0, 2.0];
    let y = 1.0;
    let w1 = [[0.1, -0.2, 0.3], [-0.4, 0.5, 0.25]];
    let b1 = [0.05, -0.15];
    let w2 = [0.7, -1.3];
    let b2 = 0.1;

    // Forward, one component at a time.
    let z1 = [
        w1[0][0] * x[0] + w1[0][1] * x[1] + w1[0][2] * x[2] + b1[0],
        w1[1][0] * x[0] + w1[1][1] * x[1] + w1[1][2] * x[2] + b1[1],
    ];
    // z1 = [0.05 + 0.2 + 0.6 + 0.05, −0.2 − 0.5 + 0.5 − 0.15] = [0.9, −0.35]
    assert_close("z1[0]", z1[0], 0.9);
    assert_close("z1[1]", z1[1], -0.35);
    let a1 = [sigmoid(z1[0]), sigmoid(z1[1])];
    let z2 = w2[0] * a1[0] + w2[1] * a1[1] + b2;
    let a2 = sigmoid(z2);
    let loss = -(y * a2.ln() + (1.0 - y) * (1.0 - a2).ln());

    // Backward.
    let dl_dz2 = a2 - y;
    let dl_dw2 = [dl_dz2 * a1[0], dl_dz2 * a1[1]];
    let dl_db2 = dl_dz2;
    let dl_da1 = [w2[0] * dl_dz2, w2[1] * dl_dz2];
    let dl_dz1 = [
        dl_da1[0] * a1[0] * (1.0 - a1[0]),
        dl_da1[1] * a1[1] * (1.0 - a1[1]),
    ];
    let dl_dw1 = [
        [dl_dz1[0] * x[0], dl_dz1[0] * x[1], dl_dz1[0] * x[2]],
        [dl_dz1[1] * x[0], dl_dz1[1] * x[1], dl_dz1[1] * x[2]],
    ];
    let dl_db1 = dl_dz1;

    let mut net = NetworkTwo::<f64>::zeros();
    net.hidden.weight = Matrix::from_rows(w1);
    net.hidden.bias = Matrix::from_rows([b1]);
    net.output.weight = Matrix::from_rows([w2]);
    net.output.bias = Matrix::from_rows([[b2]]);
    // The generated code is in the row-batch form: x is a 1×3 row.
    let xs = Matrix::<f64, 1, 3>::from_rows([x]);
    let ys = Matrix::<f64, 1, 1>::from_rows([[y]]);

    assert_close("forward", net.forward(&xs)[(0, 0)], a2);
    assert_close("loss()", net.loss(&xs, &ys), loss);
    let mut grads = net.gradients();
    poison(&mut grads);
    let mut ws = net.workspace::<1>();
    assert_close(
        "backward's loss",
        net.backward(&xs, &ys, &mut grads, &mut ws),
        loss,
    );
    assert_matrix("dl/dW1", &grads.hidden.weight, dl_dw1);
    assert_matrix("dl/db1", &grads.hidden.bias, [dl_db1]);
    assert_matrix("dl/dw2", &grads.output.weight, [dl_dw2]);
    assert_matrix("dl/db2", &grads.output.bias, [[dl_db2]]);

    // The other label: dl/dz2 = a2 − 0, and the loss is −ln(1 − a2).
    let ys0 = Matrix::<f64, 1, 1>::from_rows([[0.0]]);
    let loss0 = net.backward(&xs, &ys0, &mut grads, &mut ws);
    assert_close("loss with y = 0", loss0, -(1.0 - a2).ln());
    assert_matrix("dl/db2 with y = 0", &grads.output.bias, [[a2]]);
    assert_matrix(
        "dl/db1 with y = 0",
        &grads.hidden.bias,
        [[
            w2[0] * a2 * a1[0] * (1.0 - a1[0]),
            w2[1] * a2 * a1[1] * (1.0 - a1[1]),
        ]],
    );
}

// ---------------------------------------------------------------------------
// The least-squares worked case of DESIGN.md §1: Ỹ = X·W, L = Σ(ỹ − y)².
// ---------------------------------------------------------------------------

network! {
    /// Linear least squares, no bias.
    struct LeastSquares {
        output: DenseNoBias<2, 2>,
        loss: sse,
    }
}

/// DESIGN.md writes Ỹ = X·W with W: N×M and ∂L/∂W = Xᵀ·2(Ỹ − Y). chainrule
/// stores the weight out×in, i.e. V = Wᵀ (M×N), with Ỹ = X·Vᵀ, so the
/// stored gradient is (Xᵀ·2(Ỹ − Y))ᵀ = 2(Ỹ − Y)ᵀ·X.
///
/// X = [[1, 2], [3, −1], [0, 4]], W = [[0.5, −1], [2, 0.25]], Y = [[1, 0], [2, 1], [−1, 3]]
/// Ỹ = X·W = [[1·0.5 + 2·2, 1·(−1) + 2·0.25], [3·0.5 − 1·2, 3·(−1) − 0.25], [0 + 4·2, 0 + 4·0.25]]
///         = [[4.5, −0.5], [−0.5, −3.25], [8, 1]]
/// Ỹ − Y  = [[3.5, −0.5], [−2.5, −4.25], [9, −2]]
/// L = 12.25 + 0.25 + 6.25 + 18.0625 + 81 + 4 = 121.8125
/// ∂L/∂W = Xᵀ·2(Ỹ − Y) = 2·[[1·3.5 + 3·(−2.5) + 0·9, 1·(−0.5) + 3·(−4.25) + 0·(−2)],
///                         [2·3.5 − 1·(−2.5) + 4·9, 2·(−0.5) − 1·(−4.25) + 4·(−2)]]
///       = 2·[[−4, −13.25], [45.5, −4.75]] = [[−8, −26.5], [91, −9.5]]
#[test]
fn least_squares_gradient_is_x_transpose_times_twice_the_residual() {
    let w = [[0.5, -1.0], [2.0, 0.25]];
    let mut net = LeastSquares::<f64>::zeros();
    // Stored out×in: the transpose of DESIGN.md's W.
    net.output.weight = Matrix::from_rows([[w[0][0], w[1][0]], [w[0][1], w[1][1]]]);
    let x = Matrix::<f64, 3, 2>::from_rows([[1.0, 2.0], [3.0, -1.0], [0.0, 4.0]]);
    let y = Matrix::<f64, 3, 2>::from_rows([[1.0, 0.0], [2.0, 1.0], [-1.0, 3.0]]);

    assert_matrix(
        "Ỹ",
        &net.forward(&x),
        [[4.5, -0.5], [-0.5, -3.25], [8.0, 1.0]],
    );
    let mut grads = net.gradients();
    poison(&mut grads);
    let loss = net.backward(&x, &y, &mut grads, &mut net.workspace::<3>());
    assert_close("L", loss, 121.8125);
    // ∂L/∂W = [[−8, −26.5], [91, −9.5]]; stored transposed.
    assert_matrix(
        "∂L/∂Wᵀ",
        &grads.output.weight,
        [[-8.0, 91.0], [-26.5, -9.5]],
    );
}

// ---------------------------------------------------------------------------
// Network III: a batch of B samples as matrices, a relu hidden layer, softmax
// over the classes, cross-entropy.
// ---------------------------------------------------------------------------

network! {
    /// Network III, small: 3 → 2 relu → 3 softmax, cross-entropy.
    pub struct NetworkThree {
        hidden: Dense<3, 2> => relu,
        output: Dense<2, 3> => softmax,
        loss: cross_entropy,
    }
}

const X3: [[f64; 3]; 2] = [[1.0, -2.0, 0.5], [0.3, -0.8, 1.2]];
const W1_3: [[f64; 3]; 2] = [[0.2, -0.4, 0.1], [-0.3, 0.25, 0.6]];
const B1_3: [f64; 2] = [0.05, -0.1];
const W2_3: [[f64; 2]; 3] = [[0.5, -0.7], [0.3, 0.9], [-0.6, 0.4]];
const B2_3: [f64; 3] = [0.1, 0.0, -0.1];
const LABELS_3: [usize; 2] = [2, 0];

fn network_three() -> NetworkThree<f64> {
    let mut net = NetworkThree::<f64>::zeros();
    net.hidden.weight = Matrix::from_rows(W1_3);
    net.hidden.bias = Matrix::from_rows([B1_3]);
    net.output.weight = Matrix::from_rows(W2_3);
    net.output.bias = Matrix::from_rows([B2_3]);
    net
}

/// The hand derivation of Network III on `X3` (B = 2, row-batch form,
/// weights out×in):
///
///   Z1 = X·W1ᵀ + 1·b1ᵀ              (2×3 · 3×2 = 2×2)
///      = [[0.2 + 0.8 + 0.05 + 0.05, −0.3 − 0.5 + 0.3 − 0.1],
///         [0.06 + 0.32 + 0.12 + 0.05, −0.09 − 0.2 + 0.72 − 0.1]]
///      = [[1.1, −0.6], [0.55, 0.33]]     (one negative entry: a dead relu)
///   A1 = relu(Z1) = [[1.1, 0], [0.55, 0.33]]
///   Z2 = A1·W2ᵀ + 1·b2ᵀ             (2×2 · 2×3 = 2×3)
///   A2 = softmax of each row: A2_ij = e^Z2_ij / Σ_k e^Z2_ik
///   l  = −(1/B) Σ_i ln A2[i, c_i]     (labels c = [2, 0])
///
///   dl/dZ2 = (A2 − Y)/B               (softmax + cross-entropy fused)
///   dl/dW2 = (dl/dZ2)ᵀ·A1             (rule 5: 3×2 · 2×2 = 3×2, the shape of W2)
///   dl/db2 = 1ᵀ·dl/dZ2                (column sums, 1×3)
///   dl/dA1 = dl/dZ2·W2                (rule 6: 2×3 · 3×2 = 2×2)
///   dl/dZ1 = dl/dA1 ⊗ relu′(Z1)       (rule 7: relu′ = 1 where Z1 > 0, else 0)
///   dl/dW1 = (dl/dZ1)ᵀ·X              (rule 5: 2×2 · 2×3 = 2×3)
///   dl/db1 = 1ᵀ·dl/dZ1
struct Derived3 {
    a2: [[f64; 3]; 2],
    loss: f64,
    dl_dw1: [[f64; 3]; 2],
    dl_db1: [f64; 2],
    dl_dw2: [[f64; 2]; 3],
    dl_db2: [f64; 3],
}

fn derive_network_three() -> Derived3 {
    const B: usize = 2;
    let mut z1 = [[0.0; 2]; B];
    for i in 0..B {
        for j in 0..2 {
            z1[i][j] = (0..3).map(|k| X3[i][k] * W1_3[j][k]).sum::<f64>() + B1_3[j];
        }
    }
    let expected_z1 = [[1.1, -0.6], [0.55, 0.33]];
    for i in 0..B {
        for j in 0..2 {
            assert_close("Z1 of the comment", z1[i][j], expected_z1[i][j]);
        }
    }
    let a1 = z1.map(|row| row.map(|z| if z > 0.0 { z } else { 0.0 }));
    let mut z2 = [[0.0; 3]; B];
    for i in 0..B {
        for j in 0..3 {
            z2[i][j] = (0..2).map(|k| a1[i][k] * W2_3[j][k]).sum::<f64>() + B2_3[j];
        }
    }
    let a2 = z2.map(|row| {
        let total: f64 = row.iter().map(|z| z.exp()).sum();
        row.map(|z| z.exp() / total)
    });
    let loss = -(0..B).map(|i| a2[i][LABELS_3[i]].ln()).sum::<f64>() / B as f64;

    let mut dl_dz2 = [[0.0; 3]; B];
    for i in 0..B {
        for j in 0..3 {
            let y = if j == LABELS_3[i] { 1.0 } else { 0.0 };
            dl_dz2[i][j] = (a2[i][j] - y) / B as f64;
        }
    }
    let mut dl_dw2 = [[0.0; 2]; 3];
    for j in 0..3 {
        for k in 0..2 {
            dl_dw2[j][k] = (0..B).map(|i| dl_dz2[i][j] * a1[i][k]).sum();
        }
    }
    let dl_db2: [f64; 3] = core::array::from_fn(|j| (0..B).map(|i| dl_dz2[i][j]).sum());
    let mut dl_dz1 = [[0.0; 2]; B];
    for i in 0..B {
        for k in 0..2 {
            let dl_da1: f64 = (0..3).map(|j| dl_dz2[i][j] * W2_3[j][k]).sum();
            dl_dz1[i][k] = if z1[i][k] > 0.0 { dl_da1 } else { 0.0 };
        }
    }
    let mut dl_dw1 = [[0.0; 3]; 2];
    for j in 0..2 {
        for k in 0..3 {
            dl_dw1[j][k] = (0..B).map(|i| dl_dz1[i][j] * X3[i][k]).sum();
        }
    }
    let dl_db1: [f64; 2] = core::array::from_fn(|j| (0..B).map(|i| dl_dz1[i][j]).sum());
    // The dead relu (Z1[0][1] < 0) blocks sample 0's gradient into unit 1:
    // dl/dW1 row 1 comes from sample 1 alone.
    assert_eq!(dl_dz1[0][1], 0.0);
    Derived3 {
        a2,
        loss,
        dl_dw1,
        dl_db1,
        dl_dw2,
        dl_db2,
    }
}

fn assert_network_three_gradients(what: &str, grads: &NetworkThreeGradients<f64>, d: &Derived3) {
    assert_matrix(&format!("{what}: dl/dW1"), &grads.hidden.weight, d.dl_dw1);
    assert_matrix(&format!("{what}: dl/db1"), &grads.hidden.bias, [d.dl_db1]);
    assert_matrix(&format!("{what}: dl/dW2"), &grads.output.weight, d.dl_dw2);
    assert_matrix(&format!("{what}: dl/db2"), &grads.output.bias, [d.dl_db2]);
}

#[test]
fn network_three_matches_the_hand_derivation_with_one_hot_and_with_labels() {
    let d = derive_network_three();
    let net = network_three();
    let x = Matrix::<f64, 2, 3>::from_rows(X3);
    let labels = ClassLabels::<2, 3>::new(LABELS_3).expect("labels below 3");
    let one_hot = Matrix::<f64, 2, 3>::from_rows([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]);

    assert_matrix("forward (softmax probabilities)", &net.forward(&x), d.a2);
    assert_close("loss() with one-hot rows", net.loss(&x, &one_hot), d.loss);
    assert_close("loss() with labels", net.loss(&x, &labels), d.loss);

    let mut ws = net.workspace::<2>();
    let mut with_one_hot = net.gradients();
    poison(&mut with_one_hot);
    let loss = net.backward(&x, &one_hot, &mut with_one_hot, &mut ws);
    assert_close("backward's loss, one-hot", loss, d.loss);
    assert_network_three_gradients("one-hot", &with_one_hot, &d);

    let mut with_labels = net.gradients();
    poison(&mut with_labels);
    let loss = net.backward(&x, &labels, &mut with_labels, &mut ws);
    assert_close("backward's loss, labels", loss, d.loss);
    assert_network_three_gradients("labels", &with_labels, &d);

    // And the two kinds of targets agree with each other to rounding.
    let mut biggest = 0.0f64;
    let mut one_hot_values = Vec::new();
    with_one_hot.visit(&mut |_, v| one_hot_values.extend_from_slice(v));
    let mut k = 0;
    with_labels.visit(&mut |_, v| {
        for &g in v {
            biggest = biggest.max((g - one_hot_values[k]).abs());
            k += 1;
        }
    });
    assert_eq!(k, one_hot_values.len());
    assert!(biggest <= 1e-15, "one-hot and labels differ by {biggest:e}");
}

/// A mean over the batch: the gradient of a batch of B rows is the mean of
/// the B single-row gradients (each row run through the same network at B = 1).
#[test]
fn network_three_batch_gradient_is_the_mean_of_per_sample_gradients() {
    let net = network_three();
    let x = Matrix::<f64, 2, 3>::from_rows(X3);
    let labels = ClassLabels::<2, 3>::new(LABELS_3).expect("labels below 3");
    let mut batch = net.gradients();
    let batch_loss = net.backward(&x, &labels, &mut batch, &mut net.workspace::<2>());

    let mut mean = Vec::new();
    let mut mean_loss = 0.0;
    let mut ws1 = net.workspace::<1>();
    let mut single = net.gradients();
    for (row, &label) in X3.iter().zip(&LABELS_3) {
        let x1 = Matrix::<f64, 1, 3>::from_rows([*row]);
        let y1 = ClassLabels::<1, 3>::new([label]).expect("label below 3");
        mean_loss += net.backward(&x1, &y1, &mut single, &mut ws1) / 2.0;
        let mut k = 0;
        single.visit(&mut |_, v| {
            for &g in v {
                if mean.len() <= k {
                    mean.push(0.0);
                }
                mean[k] += g / 2.0;
                k += 1;
            }
        });
    }
    assert_close("batch loss vs mean of losses", batch_loss, mean_loss);
    let mut k = 0;
    batch.visit(&mut |info, v| {
        for &g in v {
            assert_close(&format!("{} entry {k}", info.name), g, mean[k]);
            k += 1;
        }
    });
}

// ---------------------------------------------------------------------------
// Network III at MNIST shape: 784 → 16 relu → 10 softmax, cross-entropy,
// against central finite differences on a sample of entries of every tensor.
// ---------------------------------------------------------------------------

network! {
    /// Network III at MNIST shape (a narrow hidden layer keeps the debug test fast).
    pub struct MnistShaped {
        hidden: Dense<784, 16> => relu,
        output: Dense<16, 10> => softmax,
        loss: cross_entropy,
    }
}

/// Adds `delta` to entry `entry` of tensor `tensor`.
fn nudge<P: Parameters<Scalar = f64>>(params: &mut P, tensor: usize, entry: usize, delta: f64) {
    params.visit_mut(&mut |info, values| {
        if info.index == tensor {
            values[entry] += delta;
        }
    });
}

#[test]
fn mnist_shaped_network_three_agrees_with_finite_differences() {
    const B: usize = 3;
    const STEP: f64 = 1e-6;
    let mut net = MnistShaped::<f64>::new(7);
    // Biases start at zero; make them non-zero so their gradients are tested
    // away from the initial point.
    net.hidden.bias = Matrix::from_fn(|_, j| 0.01 * (j as f64 - 7.5));
    net.output.bias = Matrix::from_fn(|_, j| 0.02 * (j as f64 - 4.5));
    // Pixel-like inputs in [0, 1].
    let x = Matrix::<f64, B, 784>::from_fn(|i, j| ((i * 131 + j * 17) % 97) as f64 / 96.0);
    let labels = ClassLabels::<B, 10>::new([3, 9, 0]).expect("labels below 10");

    // No hidden pre-activation may sit within reach of the relu kink: nudging
    // one W1 entry by STEP moves Z1 by at most STEP·max|x| = STEP.
    let z1 = x.matmul_t(&net.hidden.weight).add_row(&net.hidden.bias);
    let closest = z1
        .as_slice()
        .iter()
        .fold(f64::INFINITY, |m, z| m.min(z.abs()));
    assert!(
        closest > 1e3 * STEP,
        "seed 7 puts a pre-activation at {closest:e}"
    );

    let mut grads = net.gradients();
    let mut ws = net.workspace::<B>();
    net.backward(&x, &labels, &mut grads, &mut ws);

    let mut analytic: Vec<(String, Vec<f64>)> = Vec::new();
    grads.visit(&mut |info, v| analytic.push((info.name.to_owned(), v.to_vec())));
    let names: Vec<&str> = analytic.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "hidden.weight",
            "hidden.bias",
            "output.weight",
            "output.bias"
        ]
    );

    let mut checked = 0;
    for (tensor, (name, values)) in analytic.iter().enumerate() {
        // About 40 entries of each tensor, spread over it, plus the last one.
        let stride = (values.len() / 40).max(1);
        let entries = (0..values.len()).step_by(stride).chain([values.len() - 1]);
        for entry in entries {
            nudge(&mut net, tensor, entry, STEP);
            let up = net.loss_with(&x, &labels, &mut ws);
            nudge(&mut net, tensor, entry, -2.0 * STEP);
            let down = net.loss_with(&x, &labels, &mut ws);
            nudge(&mut net, tensor, entry, STEP);
            let numeric = (up - down) / (2.0 * STEP);
            let exact = values[entry];
            // Relative error below 1e-6; entries whose gradient is ~0 (a dead
            // hidden unit) are compared absolutely, since the rounding noise
            // of a central difference at this step is ~1e-10.
            let error = (numeric - exact).abs();
            let relative = error / exact.abs().max(numeric.abs());
            assert!(
                relative < 1e-6 || error < 1e-8,
                "{name}[{entry}]: backward {exact:e}, finite differences {numeric:e} (relative error {relative:e})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 100, "only {checked} entries checked");
}
