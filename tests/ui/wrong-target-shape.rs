use chainrule::prelude::*;

network! {
    struct TwoOutputs {
        hidden: Dense<4, 8> => relu,
        output: Dense<8, 2> => identity,
        loss: mse,
    }
}

fn main() {
    let net = TwoOutputs::<f32>::new(0);
    let x = Matrix::<f32, 5, 4>::zeros();
    let y = Matrix::<f32, 5, 3>::zeros();
    let _ = net.loss(&x, &y);
}
