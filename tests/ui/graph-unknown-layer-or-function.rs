use chainrule::prelude::*;

network! {
    pub struct Typo {
        first: Dense<3, 4>,
        second: Dense<4, 2>,
        fn forward(x: [3]) -> [2] {
            second(tanh(frist(x)))
        }
        loss: mse,
    }
}

fn main() {}
