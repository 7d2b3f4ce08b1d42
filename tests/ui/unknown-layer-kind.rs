use chainrule::prelude::*;

network! {
    struct Convolutional {
        features: Lstm<4, 8> => relu,
        output: Dense<8, 1> => identity,
        loss: sse,
    }
}

fn main() {}
