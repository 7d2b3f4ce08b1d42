use chainrule::prelude::*;

network! {
    struct Mixed {
        hidden: Dense<4, 8> => tanh,
        output: Dense<8, 1> => relu,
        loss: binary_cross_entropy,
    }
}

fn main() {}
