use chainrule::prelude::*;

network! {
    pub struct Mixed {
        a: Conv2d<1, 2, 3>,
        b: Conv2d<1, 2, 5>,
        fn forward(image: [1, 8, 8]) -> [2, 6, 6] {
            concat(a(image), b(image))
        }
        loss: mse,
    }
}

fn main() {}
