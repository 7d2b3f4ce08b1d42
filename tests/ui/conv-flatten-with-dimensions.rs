use chainrule::prelude::*;

network! {
    pub struct Sized {
        input: [1, 8, 8],
        flat: Flatten<64>,
        out: Dense<64, 2>,
        loss: mse,
    }
}

fn main() {}
