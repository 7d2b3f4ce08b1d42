use chainrule::prelude::*;

network! {
    pub struct NoFlatten {
        input: [1, 8, 8],
        conv: Conv2d<1, 2, 3> => relu,
        out: Dense<72, 10> => softmax,
        loss: cross_entropy,
    }
}

fn main() {}
