//! The project in other platforms' formats, for when it outgrows one machine. Pure
//! conversions of the normalized model (`compose::model::Project`); no engine involved.

pub mod kubernetes;
