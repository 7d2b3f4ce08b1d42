use chainrule::prelude::*;

network! {
    struct TwoLosses {
        hidden: Dense<4, 8> => relu,
        output: Dense<8, 1> => identity,
        loss: mse,
        loss: sse,
    }
}

fn main() {}
