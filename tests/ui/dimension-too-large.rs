use chainrule::prelude::*;

network! {
    struct Huge {
        hidden: Dense<4, 99999999999999999999999> => relu,
        output: Dense<8, 1> => identity,
        loss: sse,
    }
}

fn main() {}
