//! The classical baseline: features (raw pixels, HOG, PCA) and linfa's logistic regression.
