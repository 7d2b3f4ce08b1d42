use chainrule::prelude::*;

network! {
    pub struct Heads {
        a: Dense<3, 4>,
        b: Dense<4, 2>,
        fn forward(x: [3]) -> (out: [2]) {
            let h = tanh(a(x));
            b(h)
        }
        loss: mse(h),
    }
}

fn main() {}
