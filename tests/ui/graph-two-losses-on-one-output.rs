use chainrule::prelude::*;

network! {
    pub struct Doubled {
        a: Dense<3, 2>,
        fn forward(x: [3]) -> (out: [2]) {
            a(x)
        }
        loss: mse(out) + sse(out),
    }
}

fn main() {}
