use chainrule::prelude::*;

network! {
    struct Classes {
        hidden: Dense<4, 8> => relu,
        output: Dense<8, 3> => softmax,
        loss: cross_entropy,
    }
}

fn main() {
    let net = Classes::<f32>::new(0);
    let x = Matrix::<f32, 4, 4>::zeros();
    let labels = ClassLabels::<2, 3>::new([0, 1]).unwrap();
    let _ = net.loss(&x, &labels);
}
