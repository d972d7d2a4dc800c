//! An in-memory backend for fast tests of the plan and the commands.
