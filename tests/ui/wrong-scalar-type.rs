use chainrule::prelude::*;

network! {
    struct Single {
        hidden: Dense<4, 8> => relu,
        output: Dense<8, 2> => identity,
        loss: mse,
    }
}

fn main() {
    let net = Single::<f32>::new(0);
    let x = Matrix::<f64, 1, 4>::zeros();
    let _ = net.forward(&x);
}
