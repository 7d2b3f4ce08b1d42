use chainrule::prelude::*;

network! {
    struct Fractional {
        hidden: Dense<4, 2.5> => relu,
        output: Dense<8, 1> => identity,
        loss: sse,
    }
}

fn main() {}
