//! Linear least squares by gradient descent (DESIGN.md §1).
//!
//! Ỹ = X·W with X: B×N (one sample per row) and W: N×M; the loss is the sum
//! of squares L = Σ (ỹ − y)², whose gradient (rule 4 on a batch) is
//! ∂L/∂W = Xᵀ · ∂L/∂Ỹ = Xᵀ · 2(Ỹ − Y).
//!
//! The data come from a known W plus small noise from a seeded generator;
//! gradient descent recovers W, and lands on the exact least-squares solution
//! of the normal equations (XᵀX)·W = XᵀY.
//!
//! Run: `cargo run --release --example least_squares`

use chainrule::{gradcheck, losses, rules, Matrix};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Samples.
const B: usize = 200;
/// Features.
const N: usize = 5;
/// Outputs.
const M: usize = 3;
/// Half-width of the uniform noise added to Y.
const NOISE: f64 = 0.01;

/// Under `cargo test` the example runs as a test (debug build, same
/// assertions).
#[test]
fn runs_and_its_assertions_hold() {
    main();
}

fn main() {
    let w_true = Matrix::<f64, N, M>::from_rows([
        [1.5, -2.0, 0.0],
        [0.5, 0.25, -1.0],
        [-3.0, 1.0, 2.0],
        [0.0, 0.75, 0.5],
        [2.0, -0.5, -1.5],
    ]);
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let x = Matrix::<f64, B, N>::from_fn(|_, _| rng.random_range(-1.0..1.0));
    let noise = Matrix::<f64, B, M>::from_fn(|_, _| rng.random_range(-NOISE..NOISE));
    let y = &x.matmul(&w_true) + &noise;

    // L(W) = Σ (X·W − Y)², and its gradient Xᵀ·2(X·W − Y).
    let loss = |w: &Matrix<f64, N, M>| losses::sse(&x.matmul(w), &y, None);
    let gradient = |w: &Matrix<f64, N, M>| {
        let mut dl_dy = Matrix::zeros(); // 2(Ỹ − Y)
        let value = losses::sse(&x.matmul(w), &y, Some(&mut dl_dy));
        (value, rules::rule4_weight_grad_batch(&x, &dl_dy))
    };

    // The gradient, checked against central finite differences first.
    let w0 = Matrix::<f64, N, M>::zeros();
    let report = gradcheck::check(loss, &w0, &gradient(&w0).1);
    println!("∂L/∂W = Xᵀ·2(Ỹ − Y) at W = 0, against finite differences:\n  {report}\n");
    assert!(report.passes(gradcheck::DEFAULT_TOLERANCE));

    // Gradient descent. The Hessian of L is 2·XᵀX, whose largest eigenvalue
    // is about 2·B/3 for x uniform in (−1, 1); a step of 1/(2B) is stable.
    let learning_rate = 0.5 / B as f64;
    let mut w = w0;
    let mut steps = 0;
    loop {
        let (value, grad) = gradient(&w);
        if steps % 50 == 0 {
            println!(
                "step {steps:4}: L = {value:.6e}, |∂L/∂W| = {:.3e}",
                grad.norm()
            );
        }
        if grad.norm() < 1e-10 || steps == 10_000 {
            println!(
                "step {steps:4}: L = {value:.6e}, |∂L/∂W| = {:.3e} (stop)",
                grad.norm()
            );
            break;
        }
        w.add_scaled(-learning_rate, &grad);
        steps += 1;
    }

    let exact = solve_normal_equations(&x, &y);
    println!("\ntrue W:\n{w_true:.4}\n");
    println!("recovered W ({steps} steps of gradient descent):\n{w:.4}\n");
    println!(
        "error |W − W_true|, entry by entry:\n{:.1e}\n",
        (&w - &w_true).map(f64::abs)
    );
    println!(
        "largest |W − W_true| = {:.3e} (noise of ±{NOISE} in Y, {B} samples)",
        w.max_abs_diff(&w_true)
    );
    println!(
        "largest |W − W_lstsq| = {:.3e} (W_lstsq solves (XᵀX)·W = XᵀY exactly)",
        w.max_abs_diff(&exact)
    );
    assert!(
        w.max_abs_diff(&w_true) < 10.0 * NOISE,
        "W was not recovered"
    );
    assert!(
        w.max_abs_diff(&exact) < 1e-9,
        "gradient descent did not converge"
    );
}

/// The least-squares solution of X·W ≈ Y: (XᵀX)·W = XᵀY, by Gaussian
/// elimination with partial pivoting on the small N×N system.
fn solve_normal_equations(x: &Matrix<f64, B, N>, y: &Matrix<f64, B, M>) -> Matrix<f64, N, M> {
    let mut a = x.t_matmul(x); // XᵀX, N×N
    let mut rhs = x.t_matmul(y); // XᵀY, N×M
    for col in 0..N {
        let pivot = (col..N)
            .max_by(|&i, &j| a[(i, col)].abs().total_cmp(&a[(j, col)].abs()))
            .unwrap_or(col);
        for j in 0..N {
            let tmp = a[(col, j)];
            a[(col, j)] = a[(pivot, j)];
            a[(pivot, j)] = tmp;
        }
        for j in 0..M {
            let tmp = rhs[(col, j)];
            rhs[(col, j)] = rhs[(pivot, j)];
            rhs[(pivot, j)] = tmp;
        }
        for i in col + 1..N {
            let factor = a[(i, col)] / a[(col, col)];
            for j in col..N {
                a[(i, j)] -= factor * a[(col, j)];
            }
            for j in 0..M {
                rhs[(i, j)] -= factor * rhs[(col, j)];
            }
        }
    }
    let mut w = Matrix::<f64, N, M>::zeros();
    for i in (0..N).rev() {
        for j in 0..M {
            let known: f64 = (i + 1..N).map(|k| a[(i, k)] * w[(k, j)]).sum();
            w[(i, j)] = (rhs[(i, j)] - known) / a[(i, i)];
        }
    }
    w
}
