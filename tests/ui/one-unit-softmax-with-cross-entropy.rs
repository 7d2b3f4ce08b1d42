use chainrule::prelude::*;

network! {
    struct YesNo {
        hidden: Dense<4, 8> => relu,
        output: Dense<8, 1> => softmax,
        loss: cross_entropy,
    }
}

fn main() {}
