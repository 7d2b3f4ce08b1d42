//! The matrix-product kernels against a naive triple loop in f64: every form
//! (`A·B`, `Aᵀ·B`, `A·Bᵀ`, `Aᵀ·Bᵀ`), with and without `accumulate`, on every
//! shape with `m, n, k` in `1..=17` and on ragged and MNIST-sized ones, for
//! f32 and f64, through the automatic path and through the blocked and the
//! small (AVX2) paths forced; and the product with a bias added
//! (`gemm_bias`, `ops::matmul_t_bias_into`).

use chainrule::kernels::{self, Backend};

/// `(m, n, k)` of a product.
type Shape = (usize, usize, usize);
/// `(a_transposed, b_transposed)`.
type Form = (bool, bool);

/// The four forms.
const FORMS: [Form; 4] = [(false, false), (true, false), (false, true), (true, true)];

/// Deterministic values in [-1, 1) (a 64-bit LCG), different per `seed`.
fn values(len: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// The product `op(a)·op(b)` in f64 and `Σ|op(a)||op(b)|` (for the error
/// bound), by the definition.
fn reference(
    (m, n, k): (usize, usize, usize),
    a: &[f64],
    a_transposed: bool,
    b: &[f64],
    b_transposed: bool,
) -> (Vec<f64>, Vec<f64>) {
    // Rows of op(a) and columns of op(b), each contiguous along k.
    let mut rows = vec![0.0; m * k];
    let mut cols = vec![0.0; n * k];
    for p in 0..k {
        for i in 0..m {
            rows[i * k + p] = if a_transposed {
                a[p * m + i]
            } else {
                a[i * k + p]
            };
        }
        for j in 0..n {
            cols[j * k + p] = if b_transposed {
                b[j * k + p]
            } else {
                b[p * n + j]
            };
        }
    }
    let mut product = vec![0.0; m * n];
    let mut magnitude = vec![0.0; m * n];
    for (i, row) in rows.chunks_exact(k).enumerate() {
        for (j, col) in cols.chunks_exact(k).enumerate() {
            let (mut sum, mut abs) = (0.0, 0.0);
            for (x, y) in row.iter().zip(col) {
                sum += x * y;
                abs += (x * y).abs();
            }
            product[i * n + j] = sum;
            magnitude[i * n + j] = abs;
        }
    }
    (product, magnitude)
}

/// A way to run a product: a name and the function.
type Gemm<T> = (
    &'static str,
    fn(usize, usize, usize, &[T], bool, &[T], bool, &mut [T], bool),
);

/// Checks each of `paths` against [`reference`] (computed once) on one
/// shape, in each of `forms`, with and without `accumulate`. `epsilon` is
/// the unit roundoff of `T`.
fn check_shape<T: chainrule::Scalar>(
    paths: &[Gemm<T>],
    (m, n, k): (usize, usize, usize),
    forms: &[(bool, bool)],
    epsilon: f64,
) {
    let a64 = values(m * k, (m * 31 + k) as u64);
    let b64 = values(k * n, (n * 17 + k * 5 + 3) as u64);
    let c64 = values(m * n, (m * n + 11) as u64);
    let a: Vec<T> = a64.iter().map(|&x| T::from_f64(x)).collect();
    let b: Vec<T> = b64.iter().map(|&x| T::from_f64(x)).collect();
    // The reference works on the values as rounded to T, so that only the
    // product's own rounding is measured.
    let a64: Vec<f64> = a.iter().map(|x| x.to_f64()).collect();
    let b64: Vec<f64> = b.iter().map(|x| x.to_f64()).collect();
    for &(a_transposed, b_transposed) in forms {
        let (product, magnitude) = reference((m, n, k), &a64, a_transposed, &b64, b_transposed);
        for (gemm, accumulate) in paths.iter().flat_map(|g| [(g, false), (g, true)]) {
            // Without accumulate the old contents must not matter: start from NaN.
            let mut c: Vec<T> = if accumulate {
                c64.iter().map(|&x| T::from_f64(x)).collect()
            } else {
                vec![T::from_f64(f64::NAN); m * n]
            };
            let start: Vec<f64> = c.iter().map(|x| x.to_f64()).collect();
            (gemm.1)(
                m,
                n,
                k,
                &a,
                a_transposed,
                &b,
                b_transposed,
                &mut c,
                accumulate,
            );
            for idx in 0..m * n {
                let base = if accumulate { start[idx] } else { 0.0 };
                let expected = base + product[idx];
                let bound =
                    2.0 * (k as f64 + 1.0) * epsilon * (magnitude[idx] + base.abs()) + 1e-300;
                let got = c[idx].to_f64();
                assert!(
                    (got - expected).abs() <= bound,
                    "{}: {m}×{n}×{k}, a_transposed {a_transposed}, b_transposed {b_transposed}, \
                     accumulate {accumulate}: c[{}, {}] = {got}, expected {expected} (bound {bound})",
                    gemm.0,
                    idx / n,
                    idx % n,
                );
            }
        }
    }
}

/// Every way to run an f32 product that this CPU supports.
fn f32_paths() -> Vec<Gemm<f32>> {
    let mut paths: Vec<Gemm<f32>> = vec![
        ("automatic", |m, n, k, a, at, b, bt, c, acc| {
            <f32 as chainrule::Scalar>::gemm(m, n, k, a, at, b, bt, c, acc)
        }),
        ("blocked portable", |m, n, k, a, at, b, bt, c, acc| {
            kernels::gemm_blocked_f32(Backend::Portable, m, n, k, a, at, b, bt, c, acc)
        }),
    ];
    if Backend::Avx2Fma.is_supported() {
        paths.push(("blocked avx2", |m, n, k, a, at, b, bt, c, acc| {
            kernels::gemm_blocked_f32(Backend::Avx2Fma, m, n, k, a, at, b, bt, c, acc)
        }));
        paths.push(("small avx2", kernels::gemm_small_f32));
    }
    paths
}

/// Every way to run an f64 product that this CPU supports.
fn f64_paths() -> Vec<Gemm<f64>> {
    let mut paths: Vec<Gemm<f64>> = vec![
        ("automatic", |m, n, k, a, at, b, bt, c, acc| {
            <f64 as chainrule::Scalar>::gemm(m, n, k, a, at, b, bt, c, acc)
        }),
        ("blocked portable", |m, n, k, a, at, b, bt, c, acc| {
            kernels::gemm_blocked_f64(Backend::Portable, m, n, k, a, at, b, bt, c, acc)
        }),
    ];
    if Backend::Avx2Fma.is_supported() {
        paths.push(("blocked avx2", |m, n, k, a, at, b, bt, c, acc| {
            kernels::gemm_blocked_f64(Backend::Avx2Fma, m, n, k, a, at, b, bt, c, acc)
        }));
    }
    paths
}

const F32_EPSILON: f64 = f32::EPSILON as f64 / 2.0;
const F64_EPSILON: f64 = f64::EPSILON / 2.0;

fn all_small_shapes() -> impl Iterator<Item = (usize, usize, usize)> {
    (1..=17).flat_map(|m| (1..=17).flat_map(move |n| (1..=17).map(move |k| (m, n, k))))
}

// The automatic path of these shapes is the direct loops (below the
// threshold); the blocked paths are forced.
#[test]
fn f32_every_small_shape() {
    let paths = f32_paths();
    for shape in all_small_shapes() {
        check_shape(&paths, shape, &FORMS, F32_EPSILON);
    }
}

#[test]
fn f64_every_small_shape() {
    let paths = f64_paths();
    for shape in all_small_shapes() {
        check_shape(&paths, shape, &FORMS, F64_EPSILON);
    }
}

/// Ragged shapes that cross the block edges: several depth blocks (k > 256),
/// several row blocks (m > 96), several column blocks of `op(b)` (n·k large
/// for f32, and for f64 already at 1030×260), a depth of 1.
const LARGE_SHAPES: [(usize, usize, usize); 5] = [
    (33, 65, 129),
    (101, 19, 517),
    (5, 1030, 260),
    (13, 3, 300),
    (40, 50, 1),
];

#[test]
fn f32_large_ragged_shapes() {
    let direct: Gemm<f32> = ("direct", kernels::gemm_direct::<f32>);
    let paths: Vec<_> = f32_paths().into_iter().chain([direct]).collect();
    for shape in LARGE_SHAPES {
        check_shape(&paths, shape, &FORMS, F32_EPSILON);
    }
}

#[test]
fn f64_large_ragged_shapes() {
    let direct: Gemm<f64> = ("direct", kernels::gemm_direct::<f64>);
    let paths: Vec<_> = f64_paths().into_iter().chain([direct]).collect();
    for shape in LARGE_SHAPES {
        check_shape(&paths, shape, &FORMS, F64_EPSILON);
    }
}

/// The MNIST products of a 784→128 layer on a batch of 64, each in the form
/// the network uses: forward `Z = X·Wᵀ` (64×784 · (128×784)ᵀ), weight
/// gradient `dZᵀ·X` ((64×128)ᵀ · 64×784), input gradient `dZ·W`
/// (64×128 · 128×784).
const MNIST_PRODUCTS: [(Shape, Form); 3] = [
    ((64, 128, 784), (false, true)),
    ((128, 784, 64), (true, false)),
    ((64, 784, 128), (false, false)),
];

#[test]
fn f32_mnist_products() {
    for (shape, form) in MNIST_PRODUCTS {
        check_shape(&f32_paths(), shape, &[form], F32_EPSILON);
    }
}

#[test]
fn f64_mnist_products() {
    for (shape, form) in MNIST_PRODUCTS {
        check_shape(&f64_paths()[..1], shape, &[form], F64_EPSILON);
    }
}

#[test]
fn an_empty_depth_gives_zeros_or_leaves_c() {
    for path in f32_paths() {
        let mut c = vec![f32::NAN; 6];
        (path.1)(2, 3, 0, &[], false, &[], false, &mut c, false);
        assert_eq!(c, vec![0.0; 6], "{}", path.0);
        let mut c = vec![1.5f32; 6];
        (path.1)(2, 3, 0, &[], false, &[], true, &mut c, true);
        assert_eq!(c, vec![1.5; 6], "{}", path.0);
    }
}

#[test]
fn nan_and_infinity_propagate() {
    for path in f32_paths() {
        let (m, n, k) = (20, 20, 20);
        let mut a = vec![1.0f32; m * k];
        let b = vec![1.0f32; k * n];
        a[3 * k + 5] = f32::NAN;
        a[7 * k + 2] = f32::INFINITY;
        let mut c = vec![0.0f32; m * n];
        (path.1)(m, n, k, &a, false, &b, false, &mut c, false);
        for (idx, &x) in c.iter().enumerate() {
            match idx / n {
                3 => assert!(x.is_nan(), "{}", path.0),
                7 => assert_eq!(x, f32::INFINITY, "{}", path.0),
                _ => assert_eq!(x, k as f32, "{}", path.0),
            }
        }
    }
}

#[test]
#[should_panic(expected = "gemm: slices")]
fn a_short_slice_panics_with_a_message() {
    let mut c = vec![0.0f32; 4];
    kernels::gemm_f32(
        Backend::detected(),
        2,
        2,
        3,
        &[1.0; 5],
        false,
        &[1.0; 6],
        false,
        &mut c,
        false,
    );
}

/// A product with its bias: `c = op(a)·op(b) + 1·biasᵀ`.
type GemmBias<T> = (
    &'static str,
    fn(usize, usize, usize, &[T], bool, &[T], bool, &[T], &mut [T]),
);

/// Checks `gemm` against [`reference`] plus the bias on one shape, in every
/// form, starting from NaN in `c` (the old contents must not matter).
fn check_bias_shape<T: chainrule::Scalar>(
    gemm: GemmBias<T>,
    (m, n, k): (usize, usize, usize),
    epsilon: f64,
) {
    let to_t = |v: Vec<f64>| -> Vec<T> { v.iter().map(|&x| T::from_f64(x)).collect() };
    let a = to_t(values(m * k, (m * 13 + k) as u64));
    let b = to_t(values(k * n, (n * 7 + k * 3) as u64));
    let bias = to_t(values(n, n as u64 + 101));
    let back = |v: &[T]| -> Vec<f64> { v.iter().map(|x| x.to_f64()).collect() };
    let (a64, b64, bias64) = (back(&a), back(&b), back(&bias));
    for (a_transposed, b_transposed) in FORMS {
        let (product, magnitude) = reference((m, n, k), &a64, a_transposed, &b64, b_transposed);
        let mut c = vec![T::from_f64(f64::NAN); m * n];
        (gemm.1)(m, n, k, &a, a_transposed, &b, b_transposed, &bias, &mut c);
        for idx in 0..m * n {
            let expected = product[idx] + bias64[idx % n];
            let bound = 2.0 * (k as f64 + 1.0) * epsilon * (magnitude[idx] + bias64[idx % n].abs())
                + 1e-300;
            let got = c[idx].to_f64();
            assert!(
                (got - expected).abs() <= bound,
                "{}: {m}×{n}×{k}, a_transposed {a_transposed}, b_transposed {b_transposed}: \
                 c[{}, {}] = {got}, expected {expected} (bound {bound})",
                gemm.0,
                idx / n,
                idx % n,
            );
        }
    }
}

/// Shapes for the bias: every small one of a few depths (all row heights
/// and column tails of the tiles), and ones past the small path's limits.
fn bias_shapes() -> impl Iterator<Item = (usize, usize, usize)> {
    let small =
        (1..=17).flat_map(|m| (1..=19).flat_map(move |n| [1, 7, 9].map(move |k| (m, n, k))));
    small.chain([
        (33, 65, 129),
        (32, 10, 32),
        (64, 10, 128),
        (2, 40, 600),
        (70, 30, 520),
    ])
}

#[test]
fn f32_bias_is_added_to_every_row() {
    let paths: [GemmBias<f32>; 3] = [
        ("generic", kernels::gemm_bias::<f32>),
        ("avx2 or portable", |m, n, k, a, at, b, bt, bias, c| {
            kernels::gemm_bias_f32(Backend::Avx2Fma, m, n, k, a, at, b, bt, bias, c)
        }),
        ("portable", |m, n, k, a, at, b, bt, bias, c| {
            kernels::gemm_bias_f32(Backend::Portable, m, n, k, a, at, b, bt, bias, c)
        }),
    ];
    for path in paths {
        for shape in bias_shapes() {
            check_bias_shape(path, shape, F32_EPSILON);
        }
    }
}

#[test]
fn f64_bias_is_added_to_every_row() {
    let paths: [GemmBias<f64>; 2] = [
        ("generic", kernels::gemm_bias::<f64>),
        ("avx2 or portable", |m, n, k, a, at, b, bt, bias, c| {
            kernels::gemm_bias_f64(Backend::Avx2Fma, m, n, k, a, at, b, bt, bias, c)
        }),
    ];
    for path in paths {
        for shape in bias_shapes() {
            check_bias_shape(path, shape, F64_EPSILON);
        }
    }
}

/// The typed op: `Z = X·Wᵀ + 1·bᵀ` on odd shapes, against the loops written
/// out, in f32 and f64.
fn check_matmul_t_bias<T: chainrule::Scalar, const R: usize, const K: usize, const C: usize>(
    epsilon: f64,
) {
    use chainrule::{ops, Matrix};
    let x =
        Matrix::<T, R, K>::from_fn(|i, p| T::from_f64(((i * 7 + p * 3) % 11) as f64 / 11.0 - 0.4));
    let w = Matrix::<T, C, K>::from_fn(|j, p| T::from_f64(((j * 5 + p) % 13) as f64 / 13.0 - 0.5));
    let b = Matrix::<T, 1, C>::from_fn(|_, j| T::from_f64(j as f64 * 0.25 - 1.0));
    let mut z = Matrix::<T, R, C>::filled(T::from_f64(f64::NAN));
    ops::matmul_t_bias_into(&x, &w, &b, &mut z);
    for i in 0..R {
        for j in 0..C {
            let (mut sum, mut abs) = (b[(0, j)].to_f64(), b[(0, j)].to_f64().abs());
            for p in 0..K {
                let term = x[(i, p)].to_f64() * w[(j, p)].to_f64();
                sum += term;
                abs += term.abs();
            }
            let got = z[(i, j)].to_f64();
            let bound = 2.0 * (K as f64 + 1.0) * epsilon * abs + 1e-300;
            assert!(
                (got - sum).abs() <= bound,
                "{R}×{K}·({C}×{K})ᵀ: z[{i}, {j}] = {got}, expected {sum}"
            );
        }
    }
}

#[test]
fn matmul_t_bias_into_matches_the_loops() {
    check_matmul_t_bias::<f32, 32, 64, 32>(F32_EPSILON);
    check_matmul_t_bias::<f32, 32, 32, 10>(F32_EPSILON);
    check_matmul_t_bias::<f32, 5, 3, 7>(F32_EPSILON);
    check_matmul_t_bias::<f32, 1, 9, 4>(F32_EPSILON);
    check_matmul_t_bias::<f32, 13, 300, 17>(F32_EPSILON);
    check_matmul_t_bias::<f64, 32, 64, 32>(F64_EPSILON);
    check_matmul_t_bias::<f64, 5, 3, 7>(F64_EPSILON);
    check_matmul_t_bias::<f64, 13, 300, 17>(F64_EPSILON);
}

/// A product with its bias and a relu: `c = op(a)·op(b) + 1·biasᵀ`,
/// `relu = relu(c)`.
type GemmBiasRelu<T> = (
    &'static str,
    fn(usize, usize, usize, &[T], bool, &[T], bool, &[T], &mut [T], &mut [T]),
);

/// Checks a fused bias + relu product: `c` as [`check_bias_shape`] checks
/// the bias alone (by running the bias-only path for the expected `c`), and
/// `relu` entry by entry from `c`.
fn check_bias_relu_shape<T: chainrule::Scalar>(
    fused: GemmBiasRelu<T>,
    unfused: GemmBias<T>,
    (m, n, k): (usize, usize, usize),
    epsilon: f64,
) {
    let to_t = |v: Vec<f64>| -> Vec<T> { v.iter().map(|&x| T::from_f64(x)).collect() };
    let a = to_t(values(m * k, (m * 5 + k) as u64));
    let b = to_t(values(k * n, (n * 3 + k * 11) as u64));
    let bias = to_t(values(n, n as u64 + 7));
    for (a_transposed, b_transposed) in FORMS {
        let nan = T::from_f64(f64::NAN);
        let (mut c, mut relu, mut expected) =
            (vec![nan; m * n], vec![nan; m * n], vec![nan; m * n]);
        (fused.1)(
            m,
            n,
            k,
            &a,
            a_transposed,
            &b,
            b_transposed,
            &bias,
            &mut c,
            &mut relu,
        );
        (unfused.1)(
            m,
            n,
            k,
            &a,
            a_transposed,
            &b,
            b_transposed,
            &bias,
            &mut expected,
        );
        for idx in 0..m * n {
            let (got, want) = (c[idx].to_f64(), expected[idx].to_f64());
            let bound = 4.0 * (k as f64 + 1.0) * epsilon * (want.abs() + 1.0);
            assert!(
                (got - want).abs() <= bound,
                "{}: {m}×{n}×{k} ({a_transposed}, {b_transposed}): c[{idx}] = {got}, expected {want}",
                fused.0
            );
            let relu_of_c = if got > 0.0 { got } else { 0.0 };
            assert_eq!(
                relu[idx].to_f64(),
                relu_of_c,
                "{}: {m}×{n}×{k} ({a_transposed}, {b_transposed}): relu[{idx}] of c = {got}",
                fused.0
            );
        }
    }
}

#[test]
fn f32_bias_relu_is_relu_of_the_biased_product() {
    let fused: [GemmBiasRelu<f32>; 3] = [
        ("generic", kernels::gemm_bias_relu::<f32>),
        (
            "avx2 or portable",
            |m, n, k, a, at, b, bt, bias, c, relu| {
                kernels::gemm_bias_relu_f32(Backend::Avx2Fma, m, n, k, a, at, b, bt, bias, c, relu)
            },
        ),
        ("portable", |m, n, k, a, at, b, bt, bias, c, relu| {
            kernels::gemm_bias_relu_f32(Backend::Portable, m, n, k, a, at, b, bt, bias, c, relu)
        }),
    ];
    for path in fused {
        for shape in bias_shapes() {
            check_bias_relu_shape(
                path,
                ("generic bias", kernels::gemm_bias::<f32>),
                shape,
                F32_EPSILON,
            );
        }
    }
}

#[test]
fn f64_bias_relu_is_relu_of_the_biased_product() {
    for shape in bias_shapes() {
        check_bias_relu_shape(
            ("generic", kernels::gemm_bias_relu::<f64>),
            ("generic bias", kernels::gemm_bias::<f64>),
            shape,
            F64_EPSILON,
        );
    }
}

#[test]
fn fused_relu_keeps_nan_and_zeroes_negatives() {
    use chainrule::{ops, Matrix};
    // Row 0 sees a NaN input, row 1 a large negative one: the relu of the
    // first stays NaN (as `Relu` does), the second is 0.
    let mut x = Matrix::<f32, 12, 16>::filled(0.5);
    x[(0, 3)] = f32::NAN;
    x[(1, 3)] = -1e6;
    let w = Matrix::<f32, 20, 16>::filled(1.0);
    let b = Matrix::<f32, 1, 20>::filled(0.25);
    let (mut z, mut a) = (Matrix::zeros(), Matrix::zeros());
    ops::matmul_t_bias_relu_into(&x, &w, &b, &mut z, &mut a);
    for j in 0..20 {
        assert!(z[(0, j)].is_nan() && a[(0, j)].is_nan(), "column {j}");
        assert!(z[(1, j)] < 0.0 && a[(1, j)] == 0.0, "column {j}");
        assert_eq!((z[(2, j)], a[(2, j)]), (8.25, 8.25), "column {j}");
    }
}

// A one-row product against transposed weights (the forward pass of a batch
// of one) takes the direct loops, as do a few rows deeper than the small
// path takes; with AVX2 their f32 form runs four outputs at a time and must
// sum each entry exactly as the portable loops do.
#[test]
fn one_row_products_match_the_portable_loops_to_the_bit() {
    if !Backend::Avx2Fma.is_supported() {
        eprintln!("skipped: this CPU has no AVX2 + FMA, so the one-row f32 form does not run");
        return;
    }
    // One row, and a few rows deeper than the small path takes
    // (SMALL_MAX_DEPTH): fewer than eight rows take the direct loops.
    let depth = kernels::SMALL_MAX_DEPTH;
    let shapes = (1..=41).map(|k| (1, k)).chain(
        [2, 3, 7]
            .into_iter()
            .flat_map(|m| (depth + 1..=depth + 9).map(move |k| (m, k))),
    );
    for (m, k) in shapes {
        for n in 1..=13 {
            let a: Vec<f32> = values(m * k, 1).into_iter().map(|v| v as f32).collect();
            let b: Vec<f32> = values(n * k, 2).into_iter().map(|v| v as f32).collect();
            let start: Vec<f32> = values(m * n, 3).into_iter().map(|v| v as f32).collect();
            for accumulate in [false, true] {
                let mut automatic = start.clone();
                <f32 as chainrule::Scalar>::gemm(
                    m,
                    n,
                    k,
                    &a,
                    false,
                    &b,
                    true,
                    &mut automatic,
                    accumulate,
                );
                let mut portable = start.clone();
                kernels::gemm_direct(m, n, k, &a, false, &b, true, &mut portable, accumulate);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&automatic),
                    bits(&portable),
                    "m = {m}, n = {n}, k = {k}, accumulate = {accumulate}"
                );
            }
        }
    }
}

// The backend check is inline with its first call out of line: the cached
// answer must be the CPU's, and the same on every call.
#[test]
fn the_detected_backend_is_the_cpus_and_cached() {
    let first = Backend::detected();
    let expected = if Backend::Avx2Fma.is_supported() {
        Backend::Avx2Fma
    } else {
        Backend::Portable
    };
    assert_eq!(first, expected);
    for _ in 0..3 {
        assert_eq!(Backend::detected(), first);
    }
}
