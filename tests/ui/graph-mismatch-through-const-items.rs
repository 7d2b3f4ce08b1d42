use chainrule::prelude::*;

const LEFT: usize = 4;
const RIGHT: usize = 5;

network! {
    pub struct Consts {
        a: Dense<3, LEFT>,
        b: Dense<3, RIGHT>,
        fn forward(x: [3]) -> [4] {
            a(x) + b(x)
        }
        loss: mse,
    }
}

fn main() {}
