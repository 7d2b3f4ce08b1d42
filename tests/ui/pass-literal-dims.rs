use chainrule::prelude::*;

network! {
    /// 784 → 128 → 10 classifier.
    pub struct Mnist {
        hidden: Dense<784, 128> => relu,
        output: Dense<128, 10> => softmax,
        loss: cross_entropy,
    }
}

fn main() {
    assert_eq!(Mnist::<f32>::INPUTS, 784);
    assert_eq!(Mnist::<f32>::OUTPUTS, 10);
    // The scalar defaults to f32.
    let net: Mnist = Mnist::zeros();
    let x = Matrix::<f32, 2, 784>::zeros();
    let probabilities: Matrix<f32, 2, 10> = net.forward(&x);
    assert!((probabilities[(0, 0)] - 0.1).abs() < 1e-6);
}
