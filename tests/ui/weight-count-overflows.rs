use chainrule::prelude::*;

network! {
    struct Huge {
        hidden: Dense<784, 18446744073709551615> => relu,
        output: Dense<18446744073709551615, 10> => softmax,
        loss: cross_entropy,
    }
}

fn main() {
    // The stub keeps this line free of secondary errors.
    let _ = Huge::<f32>::new(0);
}
