use chainrule::prelude::*;

network! {
    pub struct Declared {
        a: Dense<3, 8>,
        fn forward(x: [3]) -> [10] {
            a(x)
        }
        loss: mse,
    }
}

fn main() {}
