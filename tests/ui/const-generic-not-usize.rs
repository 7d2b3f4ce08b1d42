use chainrule::prelude::*;

network! {
    struct Narrow<const H: u32> {
        hidden: Dense<4, H> => relu,
        output: Dense<H, 1> => identity,
        loss: sse,
    }
}

fn main() {}
