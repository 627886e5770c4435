//! Feature-unification crate; intentionally empty.
