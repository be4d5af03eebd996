//! Class balancing: class weights, a weighted sampler, SMOTE.
