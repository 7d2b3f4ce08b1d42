use chainrule::prelude::*;

network! {
    struct Mlp<const H: usize> {
        hidden: Dense<4, H> => relu,
        output: Dense<H, 1> => identity,
        loss: sse,
    }
}

fn main() {
    let net = Mlp::<0, f32>::zeros();
    let x = Matrix::<f32, 1, 4>::zeros();
    let _ = net.forward(&x);
}
