use chainrule::prelude::*;

network! {
    pub struct Digits {
        input: [1, 8, 8],
        conv: Conv2d<1, 4, 3, padding = 1> => relu,
        pool: MaxPool2d<2>,
        flat: Flatten,
        out: Dense<64, 10> => softmax,
        loss: cross_entropy,
    }
}

fn main() {
    let net = Digits::<f32>::new(0);
    // 28×28 images for a network of 8×8 ones.
    let images = Matrix::<f32, 4, 784>::zeros();
    let _ = net.forward(&images);
}
