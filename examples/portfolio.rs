//! The chain rule as a product of Jacobians (DESIGN.md §1).
//!
//! Three stocks S, two portfolios P = W·S, four funds F = U·P. By rule 1,
//! ∂P/∂S = W and ∂F/∂P = U, so by the chain rule ∂F/∂S = ∂F/∂P · ∂P/∂S = U·W,
//! a 4×3 matrix: entry (i, j) is how much fund i moves per unit of stock j.
//! Its first entry is 0.2·1 + 0.8·4 = 3.4.
//!
//! Run: `cargo run --release --example portfolio`

use chainrule::{jacobian, Matrix};

/// Under `cargo test` the example runs as a test (debug build, same
/// assertions).
#[test]
fn runs_and_its_assertions_hold() {
    main();
}

fn main() {
    // Portfolio p holds W[p][s] shares of stock s.
    let w = Matrix::<f64, 2, 3>::from_rows([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    // Fund f holds U[f][p] of portfolio p.
    let u = Matrix::<f64, 4, 2>::from_rows([[0.2, 0.8], [0.5, 0.5], [0.7, 0.3], [0.9, 0.1]]);
    let stocks = Matrix::<f64, 3, 1>::from_rows([[10.0], [20.0], [30.0]]);

    let portfolios = w.matmul(&stocks);
    let funds = u.matmul(&portfolios);
    println!("stock prices S:\n{stocks:.2}\n");
    println!("portfolio values P = W·S:\n{portfolios:.2}\n");
    println!("fund values F = U·P:\n{funds:.2}\n");

    let dp_ds = jacobian::wx(&w); // rule 1: ∂P/∂S = W
    let df_dp = jacobian::wx(&u); // rule 1: ∂F/∂P = U
    let df_ds = jacobian::chain(&df_dp, &dp_ds);
    println!("∂P/∂S = W:\n{dp_ds:.2}\n");
    println!("∂F/∂P = U:\n{df_dp:.2}\n");
    println!("∂F/∂S = ∂F/∂P · ∂P/∂S = U·W (product of Jacobians):\n{df_ds:.4}\n");

    let numeric: Matrix<f64, 4, 3> =
        jacobian::numerical_jacobian(|s| u.matmul(&w.matmul(s)), &stocks);
    println!("∂F/∂S by central finite differences:\n{numeric:.4}\n");

    println!(
        "first entry: {:.4} = 0.2·1 + 0.8·4 = {:.4}",
        df_ds[(0, 0)],
        0.2 * 1.0 + 0.8 * 4.0
    );
    println!(
        "largest difference between the two: {:.2e}",
        df_ds.max_abs_diff(&numeric)
    );
    assert!((df_ds[(0, 0)] - 3.4).abs() < 1e-12);
    assert!(df_ds.approx_eq(&numeric, 1e-8));
}
