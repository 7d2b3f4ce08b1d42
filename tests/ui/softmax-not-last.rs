use chainrule::prelude::*;

network! {
    struct Early {
        hidden: Dense<4, 8> => softmax,
        output: Dense<8, 3> => softmax,
        loss: cross_entropy,
    }
}

fn main() {}
