use chainrule::prelude::*;

network! {
    struct Activations {
        a: Dense<2, 3> => identity,
        b: Dense<3, 3> => sigmoid,
        c: Dense<3, 3> => tanh,
        d: Dense<3, 3> => relu,
        e: Dense<3, 3> => leaky_relu,
        f: Dense<3, 3>,
        output: Dense<3, 2> => softmax,
        loss: cross_entropy,
    }
}
network! { struct SumSquares { output: Dense<2, 2> => tanh, loss: sse, } }
network! { struct MeanSquares { output: Dense<2, 2> => relu, loss: mse, } }
network! { struct Binary { output: Dense<2, 1> => sigmoid, loss: binary_cross_entropy, } }
network! { struct Leaky { output: Dense<2, 2> => leaky_relu, loss: mse, } }
network! { struct Squashed { output: Dense<2, 2> => sigmoid, loss: sse, } }

fn main() {
    let x = Matrix::<f32, 1, 2>::filled(0.5);
    let y = Matrix::<f32, 1, 2>::filled(0.5);
    assert!(Activations::<f32>::new(1).loss(&x, &ClassLabels::<1, 2>::new([1]).unwrap()).is_finite());
    assert!(SumSquares::<f32>::new(1).loss(&x, &y).is_finite());
    assert!(MeanSquares::<f32>::new(1).loss(&x, &y).is_finite());
    assert!(Binary::<f32>::new(1).loss(&x, &Matrix::<f32, 1, 1>::filled(1.0)).is_finite());
    assert!(Leaky::<f32>::new(1).loss(&x, &y).is_finite());
    assert!(Squashed::<f32>::new(1).loss(&x, &y).is_finite());
}
