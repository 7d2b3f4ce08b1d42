use chainrule::prelude::*;

network! {
    pub struct Soft {
        conv: Conv2d<1, 2, 3>,
        fn forward(image: [1, 8, 8]) -> [72] {
            softmax(conv(image))
        }
        loss: cross_entropy,
    }
}

fn main() {}
