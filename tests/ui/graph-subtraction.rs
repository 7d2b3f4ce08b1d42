use chainrule::prelude::*;

network! {
    pub struct Minus {
        a: Dense<3, 3>,
        fn forward(x: [3]) -> [3] {
            a(x) - x
        }
        loss: mse,
    }
}

fn main() {}
