//! Class balancing against FER2013's imbalance (disgust is 1.5% of the faces, happy 25%): class
//! weights for the loss, a weighted random sampler that oversamples rare classes, and SMOTE for
//! the baseline's feature vectors.

mod sampler;
mod smote;
mod weights;

pub use sampler::WeightedSampler;
pub use smote::{Smote, DEFAULT_SMOTE_NEIGHBOURS};
pub use weights::{effective_number_weights, inverse_frequency_weights, ClassWeighting};
