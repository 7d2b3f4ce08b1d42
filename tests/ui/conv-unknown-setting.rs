use chainrule::prelude::*;

network! {
    pub struct Typo {
        input: [1, 8, 8],
        conv: Conv2d<1, 2, 3, pading = 1>,
        loss: mse,
    }
}

fn main() {}
