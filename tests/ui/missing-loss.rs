use chainrule::prelude::*;

network! {
    struct Unfinished {
        hidden: Dense<4, 8> => relu,
        output: Dense<8, 1> => identity,
    }
}

fn main() {}
