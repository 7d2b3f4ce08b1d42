use chainrule::prelude::*;

network! {
    struct Convolutional {
        features: Conv2d<4, 8> => relu,
        output: Dense<8, 1> => identity,
        loss: sse,
    }
}

fn main() {}
