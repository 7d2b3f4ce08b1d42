use chainrule::prelude::*;

const INPUTS: usize = 6;
const HIDDEN: usize = 5;

mod sizes {
    pub const CLASSES: usize = 3;
}
use sizes::CLASSES;

network! {
    struct FromConsts {
        hidden: Dense<INPUTS, HIDDEN> => tanh,
        output: Dense<HIDDEN, CLASSES> => softmax,
        loss: cross_entropy,
    }
}

fn main() {
    let net = FromConsts::<f64>::new(1);
    let x = Matrix::<f64, 2, INPUTS>::filled(0.5);
    let y = ClassLabels::<2, CLASSES>::new([0, 2]).unwrap();
    let mut grads = net.gradients();
    let mut ws = net.workspace::<2>();
    let loss = net.backward(&x, &y, &mut grads, &mut ws);
    assert!(loss.is_finite());
    assert_eq!(FromConsts::<f64>::INPUTS, INPUTS);
}
