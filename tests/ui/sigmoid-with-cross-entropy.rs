use chainrule::prelude::*;

network! {
    struct Mixed {
        hidden: Dense<4, 8> => relu,
        output: Dense<8, 3> => sigmoid,
        loss: cross_entropy,
    }
}

fn main() {}
