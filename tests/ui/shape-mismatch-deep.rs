use chainrule::prelude::*;

network! {
    struct Deep {
        first: Dense<8, 16> => relu,
        second: Dense<16, 16> => relu,
        third: Dense<12, 4> => tanh,
        output: Dense<4, 1> => identity,
        loss: mse,
    }
}

fn main() {}
