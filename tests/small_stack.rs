//! MNIST-sized matrices never live on the stack: creating, cloning,
//! multiplying and backpropagating through 784×128 and 64×784 matrices works in
//! a thread with a 2 MiB stack, in a debug build.

use chainrule::layers::Dense;
use chainrule::{activations, losses, ops, rules, small, ClassLabels, Matrix, RowVector};

const STACK: usize = 2 * 1024 * 1024;

fn on_small_stack<F: FnOnce() + Send + 'static>(f: F) {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .expect("spawn a thread")
        .join()
        .expect("the work on a 2 MiB stack did not overflow or panic");
}

#[test]
fn mnist_sized_products_fit_in_two_mebibytes_of_stack() {
    on_small_stack(|| {
        for_scalar::<f32>();
        for_scalar::<f64>();
    });
}

fn for_scalar<T: chainrule::Scalar>() {
    let x = Matrix::<T, 64, 784>::from_fn(|i, j| T::from_f64(((i * 7 + j) % 13) as f64 / 13.0));
    let layer = Dense::<T, 784, 128> {
        weight: Matrix::from_fn(|i, j| T::from_f64(((i + 3 * j) % 11) as f64 / 110.0 - 0.03)),
        bias: Matrix::filled(T::from_f64(0.01)),
    };
    let copy = layer.clone();
    assert_eq!(copy, layer);

    // Forward: z = x·Wᵀ + 1·bᵀ, a = relu(z).
    let mut z = Matrix::<T, 64, 128>::zeros();
    layer.forward_into(&x, &mut z);
    let a = z.map(|v| v.max(T::ZERO));
    let w2 = Matrix::<T, 10, 128>::from_fn(|i, j| T::from_f64(((i * 5 + j) % 7) as f64 / 70.0));
    let logits = a.matmul_t(&w2);

    // Loss and backward through both layers.
    let labels = ClassLabels::<64, 10>::from_slice(&[3; 64]).expect("labels below 10");
    let mut probs = Matrix::<T, 64, 10>::zeros();
    let mut dl_dlogits = Matrix::<T, 64, 10>::zeros();
    let loss = losses::softmax_cross_entropy(&logits, &labels, &mut probs, Some(&mut dl_dlogits));
    assert!(loss.is_finite());

    let mut dl_dw2 = Matrix::<T, 10, 128>::zeros();
    rules::rule5_weight_grad_into(&dl_dlogits, &a, &mut dl_dw2);
    let mut dl_da = Matrix::<T, 64, 128>::zeros();
    rules::rule6_input_grad_into(&dl_dlogits, &w2, &mut dl_da);
    let mut dl_dz = Matrix::<T, 64, 128>::zeros();
    rules::rule7_activation_grad_into::<activations::Relu, _, 64, 128>(&dl_da, &z, &a, &mut dl_dz);
    let mut dl_dw1 = Matrix::<T, 128, 784>::zeros();
    rules::rule5_weight_grad_into(&dl_dz, &x, &mut dl_dw1);
    let mut dl_dx = Matrix::<T, 64, 784>::zeros();
    rules::rule6_input_grad_into(&dl_dz, &layer.weight, &mut dl_dx);

    // The transposed products agree with the explicit transposes.
    let explicit = dl_dz.transpose().matmul(&x);
    assert!(dl_dw1.approx_eq(&explicit, T::from_f64(1e-4)));
    assert!(dl_dx.is_finite() && dl_dw1.norm() > T::ZERO);
}

/// The small forms forced onto a large layer (`#[chainrule(unroll = N)]`
/// with a large N) keep no weight-sized array on the stack either: a
/// 784 → 512 layer in f64 has 3.2 MB of weights, more than the thread's
/// whole stack.
#[test]
fn the_small_forms_on_a_large_layer_fit_in_two_mebibytes_of_stack() {
    on_small_stack(|| {
        let x = Matrix::<f64, 8, 784>::from_fn(|i, j| ((i * 7 + j) % 13) as f64 / 13.0);
        let w = Matrix::<f64, 512, 784>::from_fn(|i, j| ((i + 3 * j) % 11) as f64 / 110.0);
        let b = RowVector::<f64, 512>::filled(0.01);
        let mut z = Matrix::<f64, 8, 512>::zeros();
        small::forward(&x, &w, Some(&b), &mut z);
        let mut expected = Matrix::<f64, 8, 512>::zeros();
        ops::matmul_t_bias_into(&x, &w, &b, &mut expected);
        for (got, want) in z.as_slice().iter().zip(expected.as_slice()) {
            assert!(
                (got - want).abs() <= 1e-9 * (1.0 + want.abs()),
                "{got} vs {want}"
            );
        }
    });
}
