//! Thin handlers: extract, call one function, render.

pub(crate) mod files;
pub(crate) mod images;
pub(crate) mod meta;
