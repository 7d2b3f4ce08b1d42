use chainrule::prelude::*;

network! {
    pub struct Big {
        input: [1, 4, 4],
        conv: Conv2d<1, 2, 7, padding = 1>,
        loss: mse,
    }
}

fn main() {}
