use chainrule::prelude::*;

network! {
    struct Typo {
        hidden: Dense<4, 8> => relu,
        output: Dense<8, 3> => softmax,
        loss: cross_entropi,
    }
}

fn main() {}
