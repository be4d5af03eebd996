//! The notebooks' course: loading FER2013 in quick or full mode, the models as each notebook
//! uses them, small experiments, and tables that display in a notebook.
//!
//! The notebooks in `notebooks/` call these so that every cell stays one `fer-core` call.
//! `FER_QUICK=1` selects [`Mode::Quick`] ([`crate::quick`]: a 5% stratified subset and short training, so the
//! test command can execute all five notebooks in minutes); otherwise [`Mode::Full`] uses all
//! of FER2013 and the shipped CNN checkpoint.

mod convolution_demo;
#[allow(clippy::module_inception)]
mod course;
mod experiments;
mod inspect;
mod mode;
mod paths;
mod preprocessing_demo;
mod scored;
mod table;

pub use convolution_demo::{convolution_demo, DemoFilter, DEMO_FILTERS};
pub use course::{BaselineRun, CnnRun, Course, COURSE_SEED};
pub use experiments::{
    CurvePoint, LearningCurve, FULL_BALANCING_FRACTION, LEARNING_CURVE_FRACTIONS,
};
pub use inspect::{
    class_weight_table, confident_correct_per_emotion, hardest_table, model_table, parameter_count,
    train_config_table, EFFECTIVE_NUMBER_BETA,
};
pub use mode::{Mode, QUICK_ENV};
pub use paths::{
    data_path, model_dir, repository_root, sample_photo_path, shown_path, MODEL_DIR_ENV,
    SHIPPED_MODEL_DIR,
};
pub use preprocessing_demo::preprocessing_demo;
pub use scored::{
    class_count_table, comparison_table, metrics_table, percent, recall_table, usage_name, Scored,
};
pub use table::Table;
