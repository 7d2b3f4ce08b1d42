use chainrule::prelude::*;

network! {
    pub struct Generic<const H: usize> {
        a: Dense<4, H>,
        b: Dense<4, 3>,
        out: Dense<7, 1>,
        fn forward(x: [4]) -> [1] {
            out(concat(a(x), b(x)))
        }
        loss: mse,
    }
}

fn main() {}
