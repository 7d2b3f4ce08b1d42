use chainrule::prelude::*;

network! {
    struct LossFirst {
        hidden: Dense<4, 8> => relu,
        loss: mse,
        output: Dense<8, 1> => identity,
    }
}

fn main() {}
