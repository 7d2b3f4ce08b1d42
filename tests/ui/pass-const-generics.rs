use chainrule::prelude::*;

network! {
    /// A hidden width chosen by the user of the type.
    pub struct Mlp<const IN: usize, const H: usize> {
        hidden: Dense<IN, H> => relu,
        middle: Dense<H, H> => leaky_relu,
        output: Dense<H, 1> => sigmoid,
        loss: binary_cross_entropy,
    }
}

fn train_one<const H: usize>() -> f64 {
    let net = Mlp::<3, H, f64>::new(7);
    let x = Matrix::<f64, 4, 3>::filled(0.25);
    let y = Matrix::<f64, 4, 1>::from_rows([[0.0], [1.0], [1.0], [0.0]]);
    let mut grads = net.gradients();
    net.backward(&x, &y, &mut grads, &mut net.workspace::<4>())
}

fn main() {
    assert!(train_one::<2>().is_finite());
    assert!(train_one::<16>().is_finite());
    // The scalar still defaults to f32 after the const generics.
    let net: Mlp<3, 4> = Mlp::zeros();
    let _: f32 = net.forward(&Matrix::<f32, 1, 3>::zeros())[(0, 0)];
}
