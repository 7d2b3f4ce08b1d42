//! The Matrix API: constructors, indexing, rows, transpose, approximate
//! equality, formatting, products against a reference triple loop and
//! explicit transposes, broadcast, reductions, elementwise operations.

use chainrule::ops::{
    add_row_broadcast, column_sums_acc, column_sums_into, matmul_acc, matmul_into, matmul_t_acc,
    matmul_t_into, outer, t_matmul_acc, t_matmul_into,
};
use chainrule::{ColVector, LengthMismatch, Matrix, RowVector, Scalar};

/// `A·B` by the definition, in f64, as the reference for the kernels.
fn reference_product<T: Scalar, const R: usize, const K: usize, const C: usize>(
    a: &Matrix<T, R, K>,
    b: &Matrix<T, K, C>,
) -> Matrix<f64, R, C> {
    Matrix::from_fn(|i, j| {
        (0..K)
            .map(|k| a[(i, k)].to_f64() * b[(k, j)].to_f64())
            .sum()
    })
}

/// Entries that are exact in f32 (multiples of 1/8 below 4), so products of
/// short rows are exact too and any error is a kernel bug.
fn exact<T: Scalar, const R: usize, const C: usize>(seed: usize) -> Matrix<T, R, C> {
    Matrix::from_fn(|i, j| {
        let k = (i * 31 + j * 17 + seed * 7) % 61;
        T::from_f64(k as f64 / 8.0 - 3.75)
    })
}

// ---------------------------------------------------------------------------
// Constructors and access
// ---------------------------------------------------------------------------

#[test]
fn constructors() {
    let z = Matrix::<f64, 2, 3>::zeros();
    assert!(z.as_slice().iter().all(|&x| x == 0.0));
    assert_eq!(z.as_slice().len(), 6);
    assert_eq!(Matrix::<f64, 2, 3>::default(), z);
    let f = Matrix::<f32, 3, 2>::filled(2.5);
    assert!(f.as_slice().iter().all(|&x| x == 2.5));
    // from_fn and from_rows agree; storage is row-major.
    let a = Matrix::<f64, 2, 3>::from_fn(|i, j| (10 * i + j) as f64);
    let b = Matrix::<f64, 2, 3>::from_rows([[0.0, 1.0, 2.0], [10.0, 11.0, 12.0]]);
    assert_eq!(a, b);
    assert_eq!(a.as_slice(), &[0.0, 1.0, 2.0, 10.0, 11.0, 12.0]);
    assert_eq!(Matrix::<f64, 2, 3>::from_slice(a.as_slice()), Ok(a.clone()));
    assert_eq!(
        Matrix::<f64, 2, 3>::from_vec(a.clone().into_vec()),
        Ok(a.clone())
    );
    assert_eq!(
        Matrix::<f64, 2, 2>::identity(),
        Matrix::from_rows([[1.0, 0.0], [0.0, 1.0]])
    );
    assert_eq!(
        (
            Matrix::<f64, 4, 5>::ROWS,
            Matrix::<f64, 4, 5>::COLS,
            Matrix::<f64, 4, 5>::LEN
        ),
        (4, 5, 20)
    );
}

#[test]
fn wrong_lengths_are_typed_errors() {
    let err = Matrix::<f64, 2, 3>::from_slice(&[1.0; 5]).unwrap_err();
    assert_eq!(
        err,
        LengthMismatch {
            expected: 6,
            found: 5
        }
    );
    assert_eq!(
        err.to_string(),
        "expected 6 entries for the matrix, found 5"
    );
    assert_eq!(
        Matrix::<f32, 1, 1>::from_vec(vec![]),
        Err(LengthMismatch {
            expected: 1,
            found: 0
        })
    );
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(boxed.to_string().contains("found 5"));
}

#[test]
fn indexing_and_rows() {
    let mut m = Matrix::<f64, 3, 2>::from_rows([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
    assert_eq!(m[(2, 1)], 6.0);
    assert_eq!(m.get(1, 0), Some(3.0));
    assert_eq!(m.get(3, 0), None);
    assert_eq!(m.get(0, 2), None);
    m[(0, 1)] = -2.0;
    assert_eq!(m.as_slice()[1], -2.0);
    assert_eq!(m.row(1), &[3.0, 4.0]);
    m.row_mut(2)[0] = 50.0;
    assert_eq!(m[(2, 0)], 50.0);
    let rows: Vec<[f64; 2]> = m.rows().copied().collect();
    assert_eq!(rows, vec![[1.0, -2.0], [3.0, 4.0], [50.0, 6.0]]);
    assert_eq!(m.rows().len(), 3);
    for row in m.rows_mut() {
        row[1] = 0.0;
    }
    assert_eq!(m.column(1), ColVector::<f64, 3>::zeros());
    assert_eq!(m.column(0), Matrix::from_rows([[1.0], [3.0], [50.0]]));
    m.as_mut_slice()[0] = 9.0;
    assert_eq!(m[(0, 0)], 9.0);
}

#[test]
#[should_panic(expected = "outside a 3×2 matrix")]
fn indexing_outside_panics_with_the_shape() {
    let m = Matrix::<f64, 3, 2>::zeros();
    let _ = m[(0, 2)];
}

#[test]
#[should_panic(expected = "column 4 of a matrix with 2 columns")]
fn column_outside_panics() {
    let _ = Matrix::<f64, 3, 2>::zeros().column(4);
}

#[test]
fn transpose() {
    let m = Matrix::<f64, 2, 3>::from_rows([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    let t: Matrix<f64, 3, 2> = m.transpose();
    assert_eq!(t, Matrix::from_rows([[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]));
    assert_eq!(t.transpose(), m);
    let row = RowVector::<f64, 3>::from_rows([[7.0, 8.0, 9.0]]);
    assert_eq!(row.transpose(), Matrix::from_rows([[7.0], [8.0], [9.0]]));
}

#[test]
fn approx_eq_is_absolute_near_zero_and_relative_for_large_entries() {
    let a = Matrix::<f64, 1, 3>::from_rows([[0.0, 1.0, 1e6]]);
    // |diff| ≤ tol · max(1, |a|, |b|): with tol = 1e-9, 1e-9 absolute at 0
    // and at 1, 1e-3 at 1e6. Half of that passes, twice that fails.
    let b = Matrix::<f64, 1, 3>::from_rows([[0.5e-9, 1.0 + 0.5e-9, 1e6 + 0.5e-3]]);
    assert!(a.approx_eq(&b, 1e-9));
    assert!(!a.approx_eq(&b, 1e-10));
    for k in 0..3 {
        let mut c = a.clone();
        c[(0, k)] += 2.0 * 1e-9 * a[(0, k)].abs().max(1.0);
        assert!(!a.approx_eq(&c, 1e-9), "entry {k}");
    }
    let nan = Matrix::<f64, 1, 3>::from_rows([[f64::NAN, 1.0, 1e6]]);
    assert!(!nan.approx_eq(&nan, 1.0));
    assert!(!a.approx_eq(&nan, 1.0));
    assert_eq!(a.max_abs_diff(&b), (1e6 + 0.5e-3) - 1e6);
    assert!(a.max_abs_diff(&nan).is_nan());
}

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

#[test]
fn display_shows_a_matrix() {
    let m = Matrix::<f64, 2, 3>::from_rows([[1.0, -2.0, 3.5], [4.0, 5.0, 6.0]]);
    assert_eq!(
        m.to_string(),
        "Matrix 2×3\n[  1.0000 -2.0000  3.5000 ]\n[  4.0000  5.0000  6.0000 ]"
    );
    assert_eq!(
        format!("{m:.1}"),
        "Matrix 2×3\n[  1.0 -2.0  3.5 ]\n[  4.0  5.0  6.0 ]"
    );
    let nan = Matrix::<f32, 1, 2>::from_rows([[1.5, f32::NAN]]);
    assert_eq!(nan.to_string(), "Matrix 1×2\n[ 1.5000    NaN ]");
}

#[test]
fn display_elides_the_middle_of_large_matrices() {
    let m = Matrix::<f64, 12, 11>::from_fn(|i, j| (i * 11 + j) as f64);
    let text = format!("{m:.0}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Matrix 12×11");
    // 4 rows, a ⋮ row, 4 rows.
    assert_eq!(lines.len(), 1 + 9);
    assert_eq!(lines[1], "[   0   1   2   3   …   7   8   9  10 ]");
    assert!(lines[5].starts_with("[   ⋮"));
    assert_eq!(lines[9], "[ 121 122 123 124   … 128 129 130 131 ]");
}

#[test]
fn debug_shows_rows() {
    let m = Matrix::<f64, 2, 2>::from_rows([[1.0, 2.0], [3.0, 0.5]]);
    assert_eq!(
        format!("{m:?}"),
        "Matrix<2, 2> [\n    [1.0, 2.0],\n    [3.0, 0.5]\n]"
    );
}

// ---------------------------------------------------------------------------
// Products
// ---------------------------------------------------------------------------

#[test]
fn matmul_by_hand() {
    // [[1, 2, 3], [4, 5, 6]] · [[7, 8], [9, 10], [11, 12]]
    //   = [[7 + 18 + 33, 8 + 20 + 36], [28 + 45 + 66, 32 + 50 + 72]]
    //   = [[58, 64], [139, 154]]
    let a = Matrix::<f64, 2, 3>::from_rows([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    let b = Matrix::<f64, 3, 2>::from_rows([[7.0, 8.0], [9.0, 10.0], [11.0, 12.0]]);
    let want = Matrix::from_rows([[58.0, 64.0], [139.0, 154.0]]);
    assert_eq!(a.matmul(&b), want);
    assert_eq!(&a * &b, want);
    assert_eq!(a.cast::<f32>().matmul(&b.cast::<f32>()), want.cast::<f32>());
    // W·x for a column vector, x·W for a row vector.
    let x = ColVector::<f64, 3>::from_rows([[1.0], [0.0], [-1.0]]);
    assert_eq!(a.matmul(&x), Matrix::from_rows([[-2.0], [-2.0]]));
    let r = RowVector::<f64, 2>::from_rows([[1.0, -1.0]]);
    assert_eq!(r.matmul(&a), Matrix::from_rows([[-3.0, -3.0, -3.0]]));
}

fn products_match_reference<T: Scalar, const R: usize, const K: usize, const C: usize>() {
    let a = exact::<T, R, K>(1);
    let b = exact::<T, K, C>(2);
    let bt = b.transpose(); // C×K
    let at = a.transpose(); // K×R
    let want = reference_product(&a, &b);
    let tol = 1e-12;
    assert!(
        a.matmul(&b).cast::<f64>().approx_eq(&want, tol),
        "A·B {R}×{K}·{K}×{C}"
    );
    // A·Bᵀ against the product with an explicit transpose.
    assert!(
        a.matmul_t(&bt).cast::<f64>().approx_eq(&want, tol),
        "A·Bᵀ {R}×{K}·{K}×{C}"
    );
    // Aᵀ·B likewise.
    assert!(
        at.t_matmul(&b).cast::<f64>().approx_eq(&want, tol),
        "Aᵀ·B {R}×{K}·{K}×{C}"
    );
    // The _into forms overwrite, the _acc forms add.
    let start = exact::<T, R, C>(3);
    let mut out = Matrix::filled(T::from_f64(1e3));
    matmul_into(&a, &b, &mut out);
    assert!(out.cast::<f64>().approx_eq(&want, tol));
    let with_start = &want + &start.cast::<f64>();
    let mut out = start.clone();
    matmul_acc(&a, &b, &mut out);
    assert!(out.cast::<f64>().approx_eq(&with_start, tol), "A·B acc");
    let mut out = Matrix::filled(T::from_f64(1e3));
    matmul_t_into(&a, &bt, &mut out);
    assert!(out.cast::<f64>().approx_eq(&want, tol));
    let mut out = start.clone();
    matmul_t_acc(&a, &bt, &mut out);
    assert!(out.cast::<f64>().approx_eq(&with_start, tol), "A·Bᵀ acc");
    let mut out = Matrix::filled(T::from_f64(1e3));
    t_matmul_into(&at, &b, &mut out);
    assert!(out.cast::<f64>().approx_eq(&want, tol));
    let mut out = start.clone();
    t_matmul_acc(&at, &b, &mut out);
    assert!(out.cast::<f64>().approx_eq(&with_start, tol), "Aᵀ·B acc");
}

fn products_for<T: Scalar>() {
    products_match_reference::<T, 1, 1, 1>();
    products_match_reference::<T, 2, 3, 4>();
    products_match_reference::<T, 4, 4, 16>();
    products_match_reference::<T, 16, 4, 16>();
    products_match_reference::<T, 7, 13, 5>();
    products_match_reference::<T, 9, 17, 33>();
    products_match_reference::<T, 33, 9, 17>();
    products_match_reference::<T, 5, 40, 3>();
    products_match_reference::<T, 1, 64, 10>();
    products_match_reference::<T, 10, 64, 1>();
    // Larger than any register block or cache tile a kernel is likely to
    // use, with remainders in every dimension.
    products_match_reference::<T, 37, 300, 29>();
    products_match_reference::<T, 67, 131, 70>();
}

#[test]
fn products_match_a_reference_at_many_shapes_f64() {
    products_for::<f64>();
}

#[test]
fn products_match_a_reference_at_many_shapes_f32() {
    products_for::<f32>();
}

#[test]
fn products_propagate_nan_and_infinity() {
    let mut a = Matrix::<f64, 3, 3>::identity();
    a[(1, 1)] = f64::NAN;
    let b = Matrix::<f64, 3, 3>::filled(1.0);
    let p = a.matmul(&b);
    assert!(p.row(1).iter().all(|x| x.is_nan()));
    assert!(p.row(0).iter().all(|&x| x == 1.0));
    let mut c = Matrix::<f64, 3, 3>::identity();
    c[(0, 0)] = f64::INFINITY;
    assert_eq!(c.matmul(&b)[(0, 2)], f64::INFINITY);
}

// ---------------------------------------------------------------------------
// Broadcast, reductions, elementwise
// ---------------------------------------------------------------------------

#[test]
fn broadcast_bias_and_column_sums() {
    let z = Matrix::<f64, 3, 2>::from_rows([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
    let b = RowVector::<f64, 2>::from_rows([[10.0, -1.0]]);
    let want = Matrix::from_rows([[11.0, 1.0], [13.0, 3.0], [15.0, 5.0]]);
    assert_eq!(z.add_row(&b), want);
    let mut zz = z.clone();
    add_row_broadcast(&mut zz, &b);
    assert_eq!(zz, want);
    // 1ᵀ·Z: (1 + 3 + 5, 2 + 4 + 6) = (9, 12).
    assert_eq!(z.column_sums(), Matrix::from_rows([[9.0, 12.0]]));
    let mut sums = RowVector::filled(100.0);
    column_sums_into(&z, &mut sums);
    assert_eq!(sums, Matrix::from_rows([[9.0, 12.0]]));
    column_sums_acc(&z, &mut sums);
    assert_eq!(sums, Matrix::from_rows([[18.0, 24.0]]));
    // The column sums are 1ᵀ·Z.
    assert_eq!(Matrix::<f64, 1, 3>::filled(1.0).matmul(&z), z.column_sums());
}

#[test]
fn outer_hadamard_scale() {
    let x = ColVector::<f64, 2>::from_rows([[1.0], [2.0]]);
    let y = ColVector::<f64, 3>::from_rows([[3.0], [4.0], [5.0]]);
    let o = outer(&x, &y);
    assert_eq!(o, Matrix::from_rows([[3.0, 4.0, 5.0], [6.0, 8.0, 10.0]]));
    assert_eq!(o, x.matmul(&y.transpose()));
    let a = Matrix::<f64, 2, 2>::from_rows([[1.0, 2.0], [3.0, 4.0]]);
    let b = Matrix::<f64, 2, 2>::from_rows([[5.0, 6.0], [7.0, 8.0]]);
    assert_eq!(
        a.hadamard(&b),
        Matrix::from_rows([[5.0, 12.0], [21.0, 32.0]])
    );
    assert_eq!(
        a.scale(-0.5),
        Matrix::from_rows([[-0.5, -1.0], [-1.5, -2.0]])
    );
    let mut s = a.clone();
    s.scale_in_place(2.0);
    assert_eq!(s, Matrix::from_rows([[2.0, 4.0], [6.0, 8.0]]));
    s.add_scaled(-2.0, &a); // s − 2a = 0
    assert_eq!(s, Matrix::zeros());
}

#[test]
fn elementwise_arithmetic_and_reductions() {
    let a = Matrix::<f64, 2, 2>::from_rows([[1.0, 2.0], [3.0, 4.0]]);
    let b = Matrix::<f64, 2, 2>::from_rows([[0.5, -1.0], [2.0, 0.0]]);
    assert_eq!(&a + &b, Matrix::from_rows([[1.5, 1.0], [5.0, 4.0]]));
    assert_eq!(&a - &b, Matrix::from_rows([[0.5, 3.0], [1.0, 4.0]]));
    assert_eq!(-&b, Matrix::from_rows([[-0.5, 1.0], [-2.0, -0.0]]));
    let mut c = a.clone();
    c += &b;
    c -= &a;
    assert_eq!(c, b);
    assert_eq!(a.sum(), 10.0);
    assert_eq!(a.norm(), 30f64.sqrt());
    assert_eq!(
        a.map(|x| x * x),
        Matrix::from_rows([[1.0, 4.0], [9.0, 16.0]])
    );
    let mut m = a.clone();
    m.map_in_place(|x| x - 1.0);
    assert_eq!(m, Matrix::from_rows([[0.0, 1.0], [2.0, 3.0]]));
    assert_eq!(
        a.zip_map(&b, f64::max),
        Matrix::from_rows([[1.0, 2.0], [3.0, 4.0]])
    );
    let mut out = Matrix::zeros();
    out.zip_map_into(&a, &b, |x, y| x * 10.0 + y);
    assert_eq!(out, Matrix::from_rows([[10.5, 19.0], [32.0, 40.0]]));
    out.fill(7.0);
    assert_eq!(out, Matrix::filled(7.0));
    out.copy_from(&a);
    assert_eq!(out, a);
    assert!(a.is_finite());
    assert!(!Matrix::<f64, 1, 1>::filled(f64::INFINITY).is_finite());
    assert_eq!(a.cast::<f32>().cast::<f64>(), a);
}
