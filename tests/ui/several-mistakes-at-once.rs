use chainrule::prelude::*;

network! {
    struct Careless {
        hidden: Dense<4, 8> => rleu,
        hidden: Dense<16, 8> => relu,
        output: Dense<8, 0> => softmax,
        loss: binary_cross_entropy,
    }
}

fn main() {}
