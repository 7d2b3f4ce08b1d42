use chainrule::prelude::*;

network! {
    pub struct Branches {
        left: Dense<4, 3>,
        right: Dense<4, 4>,
        out: Dense<8, 2>,
        fn forward(x: [4]) -> [2] {
            out(concat(left(x), right(x)))
        }
        loss: mse,
    }
}

fn main() {}
