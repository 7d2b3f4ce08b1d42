use chainrule::prelude::*;

network! {
    struct FourInputs {
        hidden: Dense<4, 8> => relu,
        output: Dense<8, 2> => identity,
        loss: mse,
    }
}

fn main() {
    let net = FourInputs::<f32>::new(0);
    let x = Matrix::<f32, 5, 3>::zeros();
    let _ = net.forward(&x);
}
