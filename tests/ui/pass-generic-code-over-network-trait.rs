use chainrule::prelude::*;

network! {
    pub struct Small {
        hidden: Dense<3, 4> => tanh,
        output: Dense<4, 2> => identity,
        loss: mse,
    }
}

// Written once for every network: the trait carries everything a training loop needs.
fn train<N: Network<IN, OUT>, const IN: usize, const OUT: usize, const B: usize>(
    x: &Matrix<N::Scalar, B, IN>,
    y: &Matrix<N::Scalar, B, OUT>,
) -> (N::Scalar, N::Scalar) {
    let mut net = N::init(11);
    let mut grads = net.new_gradients();
    let mut ws = net.new_workspace::<B>();
    let first = net.backward(x, y, &mut grads, &mut ws);
    let mut last = first;
    for _ in 0..50 {
        net.sgd_step(&grads, N::Scalar::from_f64(0.1));
        last = net.backward(x, y, &mut grads, &mut ws);
    }
    (first, last)
}

fn main() {
    let x = Matrix::<f64, 3, 3>::from_fn(|i, j| (i + j) as f64 * 0.2);
    let y = Matrix::<f64, 3, 2>::from_fn(|i, j| (i * j) as f64 * 0.1);
    let (first, last) = train::<Small<f64>, 3, 2, 3>(&x, &y);
    assert!(last < first);
    assert!(Small::<f64>::graph_dot().starts_with("digraph"));
}
