//! The convolutional network on dfdx: convolution and pooling ops, layers, models, training and
//! checkpoints.
