use chainrule::prelude::*;

network! {
    struct First {
        hidden: Dense<4, 8> => relu,
        output: Dense<8, 2> => identity,
        loss: mse,
    }
}

network! {
    struct Second {
        hidden: Dense<4, 6> => relu,
        output: Dense<6, 2> => identity,
        loss: mse,
    }
}

fn main() {
    let first = First::<f32>::new(0);
    let second = Second::<f32>::new(0);
    let mut grads = second.gradients();
    let mut ws = first.workspace::<1>();
    let x = Matrix::<f32, 1, 4>::zeros();
    let y = Matrix::<f32, 1, 2>::zeros();
    let _ = first.backward(&x, &y, &mut grads, &mut ws);
}
