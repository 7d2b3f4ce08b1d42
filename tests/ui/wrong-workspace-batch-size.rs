use chainrule::prelude::*;

network! {
    struct Small {
        hidden: Dense<4, 8> => relu,
        output: Dense<8, 2> => identity,
        loss: mse,
    }
}

fn main() {
    let net = Small::<f32>::new(0);
    // A workspace for batches of 8 rows, a batch of 4.
    let mut ws = net.workspace::<8>();
    let x = Matrix::<f32, 4, 4>::zeros();
    let _ = net.forward_with(&x, &mut ws);
}
