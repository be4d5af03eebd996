//! Data augmentation for 48x48 grayscale faces.
